package deploy

import (
	"testing"

	"github.com/rastringer/docker_multistage/test/dockertest"
)

func TestMain(m *testing.M) { dockertest.Main(m) }
