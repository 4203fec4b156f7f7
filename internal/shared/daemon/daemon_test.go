package daemon

import (
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestListenClosesWhatItOpenedOnError(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := free.Addr().String()
	free.Close()
	if _, _, err := Listen(Endpoint{Addr: addr}, Endpoint{Addr: taken.Addr().String()}, nil); err == nil || !strings.Contains(err.Error(), "--admin") {
		t.Fatalf("Listen with a taken admin port = %v", err)
	}
	// The service port was released: it can be opened again.
	ln, admin, err := Listen(Endpoint{Addr: addr}, Endpoint{Addr: AdminOff}, nil)
	if err != nil || admin != nil {
		t.Fatalf("Listen again = %v, admin %v", err, admin)
	}
	ln.Close()
}

func TestGroupReportsTheFirstRealFailure(t *testing.T) {
	var g Group
	g.Go("closed", func() error { return http.ErrServerClosed })
	g.Go("broken", func() error { return errors.New("boom") })
	g.Go("also broken", func() error { return errors.New("later") })
	g.Wait()
	select {
	case err := <-g.Err():
		if !strings.Contains(err.Error(), "boom") && !strings.Contains(err.Error(), "later") {
			t.Fatalf("err = %v", err)
		}
	default:
		t.Fatal("no failure reported")
	}
}

func TestMissing(t *testing.T) {
	errs := Missing(Required{"x", "--a", "A"}, Required{"", "--b", "B"})
	if len(errs) != 1 || errs[0].Error() != "--b is required (or set B)" {
		t.Fatalf("Missing = %v", errs)
	}
}
