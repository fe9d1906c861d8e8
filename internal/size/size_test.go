package size

import "testing"

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 999: "999 B", 6283426: "6.28 MB", 13041939: "13.0 MB", 366716192: "367 MB", 1_200_000_000: "1.20 GB", -2_500_000: "-2.50 MB"} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
	if got := Exact(6283426); got != "6.28 MB (6283426 bytes)" {
		t.Errorf("Exact = %q", got)
	}
}

func TestParse(t *testing.T) {
	good := map[string]int64{
		"8MB": 8_000_000, "6.5MiB": 6_815_744, "6.5 MiB": 6_815_744, "512kB": 512_000, "512KiB": 524_288,
		"1GB": 1_000_000_000, "1gib": 1 << 30, "1048576": 1 << 20, "100B": 100, "2m": 2_000_000,
	}
	for in, want := range good {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MB", "-1MB", "0", "eight MB", "1XB", "NaN", "1e400"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q): no error", in)
		}
	}
}
