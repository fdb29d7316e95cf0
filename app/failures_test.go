package app_test

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"keypool/app"
	"keypool/internal/dirtest"
	"keypool/relay/relaytest"
)

// An account whose upstream refuses the connection: the client is told so,
// by name; keypool status shows the account cooling for that reason with
// its attempt and error counted, while the relay runs and after; the usage
// record names the account.
func TestStatusTellsRefusedConnection(t *testing.T) {
	dead := relaytest.DeadAddr()
	dir := dirtest.New(t)
	p := app.Params{ConfigPath: writeConfig(t, dir, dead, dead), DataDir: filepath.Join(dir, "data")}
	r := start(t, p)
	code, body := r.post(t, "s1")
	if code != 502 || !strings.Contains(body, "connection refused by account a; connection refused by account b") {
		t.Fatalf("client got %d %s; want 502 naming each refused account", code, body)
	}
	r.Store().Flush(context.Background())

	var out bytes.Buffer
	if err := app.Status(context.Background(), p, &out); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		// ACCOUNT TYPE PRIO STATE UNTIL(2 fields) REQUESTS ERRORS …
		row := rowOf(out.String(), id)
		if f := strings.Fields(row); len(f) < 8 || f[3] != "cooling" || f[5] != "(connection)" || f[6] != "1" || f[7] != "1" {
			t.Errorf("status row for %s = %q; want cooling (connection) with 1 request\n%s", id, row, out.String())
		}
	}
	if !strings.Contains(out.String(), "1 (1 connection)  ") || !strings.Contains(out.String(), "connection refused by account a") {
		t.Errorf("status:\n%s\nwant the connection errors since start counted (\"1 (1 connection)\") and the last one named", out.String())
	}
	recs, err := r.Store().Latest(10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Account != "b" || len(recs[0].Failover) != 1 || recs[0].Failover[0].Account != "a" {
		t.Errorf("records = %+v; want one naming b, after a", recs)
	}
	r.stop()

	out.Reset()
	if err := app.Status(context.Background(), p, &out); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if row := rowOf(out.String(), id); !strings.Contains(row, " 1 (1 connection) ") {
			t.Errorf("offline status row for %s = %q; want today's 1 error, a connection one\n%s", id, row, out.String())
		}
	}
	for _, line := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			t.Errorf("status row %q, want every row to start with its account", line)
		}
	}
}

// rowOf is the status table line of account id.
func rowOf(out, id string) string {
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == id {
			return line
		}
	}
	return ""
}
