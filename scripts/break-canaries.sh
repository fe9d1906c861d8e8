#!/usr/bin/env bash
# Shows that each canary in internal/server/canary_test.go fails when the
# net/http behaviour it pins is broken: edits a copy of net/http's
# server.go, one behaviour at a time, builds the tests against it with
# go test -overlay, and expects the named canary to fail. An edit that no
# longer applies (a Go release rewrote that code) is an error too: the
# canary then needs a new look.
#   scripts/break-canaries.sh        (make canaries)
set -euo pipefail
cd "$(dirname "$0")/.."
src=$(go env GOROOT)/src/net/http/server.go
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failed=0

# broken NAME CANARY SED: edit server.go with SED; CANARY must fail.
broken() {
	local name=$1 canary=$2 edit=$3
	cp "$src" "$work/$name.go"
	sed -i "$edit" "$work/$name.go"
	if cmp -s "$src" "$work/$name.go"; then
		echo "$name: the edit no longer applies to $src" >&2
		failed=1
		return
	fi
	printf '{"Replace":{"%s":"%s"}}' "$src" "$work/$name.go" >"$work/$name.json"
	if out=$(go test -count=1 -overlay "$work/$name.json" -run "^$canary\$" ./internal/server 2>&1); then
		echo "$name: $canary passed with the behaviour broken" >&2
		failed=1
	elif grep -q 'assumption broken' <<<"$out"; then
		echo "$name: $canary fails: $(grep -m1 -o 'assumption broken.*' <<<"$out" | cut -c1-120)"
	else
		echo "$name: $canary did not fail on its assumption:" >&2
		echo "$out" >&2
		failed=1
	fi
}

broken background-read-size TestCanaryBackgroundRead \
	's/n, err := cr.rwc.Read(cr.byteBuf\[:\])/n, err := cr.rwc.Read(make([]byte, 2))/'
broken background-read-deadline TestCanaryBackgroundRead \
	'/^func (cr \*connReader) abortPendingRead/,/^}/ s/cr.rwc.SetReadDeadline(time.Time{})/_ = 0/'
broken future-deadline TestCanaryBackgroundRead \
	's/^\tc.rwc.SetReadDeadline(wholeReqDeadline)$/\t_ = wholeReqDeadline; c.rwc.SetReadDeadline(time.Now().Add(time.Hour))/'
broken read-error-answered TestCanaryClaimedReadAnswersNothing \
	's|return // don.t reply|fmt.Fprintf(c.rwc, "HTTP/1.1 400 Bad Request\\r\\nConnection: close\\r\\n\\r\\n"); return|'
broken no-idle-state TestCanaryConnStates \
	's/^\t\tc.setState(c.rwc, StateIdle, runHooks)$/\t\t_ = runHooks/'
broken serve-error TestCanaryListenerCloseEndsServe \
	'/rw, err := l.Accept()/,/connCtx := ctx/ s/^\t\t\treturn err$/\t\t\treturn errors.New("accept failed")/'
broken serve-closes-conns TestCanaryListenerCloseEndsServe \
	'/rw, err := l.Accept()/,/connCtx := ctx/ s/^\t\t\treturn err$/\t\t\ts.mu.Lock(); for c := range s.activeConn { c.rwc.Close() }; s.mu.Unlock(); return err/'
exit "$failed"
