package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"keypool/app/secrets"
	"keypool/internal/dirtest"
	"keypool/internal/reruntest"
)

// On a terminal, the key typed at keypool accounts add's prompt is not shown.
// The command runs in a child whose standard input and output are a real
// pseudo-terminal; what the terminal would display is read from its other
// end.
func TestKeyPromptDoesNotEcho(t *testing.T) {
	const key = "sk-ant-typed-at-a-terminal"
	if os.Getenv("KEYPOOL_PTY_CHILD") == "1" {
		err := run(context.Background(), []string{"accounts", "add", "--id", "typed", "--data-dir", os.Getenv("KEYPOOL_PTY_DATA")},
			os.Stdin, os.Stdout, os.Stderr)
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	keys := cliKeychain(t)
	t.Cleanup(func() { keys.DeleteAll(secrets.Account("typed")) })
	master, tty := openPTY(t)
	cmd := exec.Command(os.Args[0], reruntest.Args(t)[1:]...)
	cmd.Env = append(os.Environ(), "KEYPOOL_PTY_CHILD=1", "KEYPOOL_PTY_DATA="+dirtest.New(t))
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tty.Close() // the child holds it now

	var (
		mu    sync.Mutex
		shown bytes.Buffer
	)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		b := make([]byte, 4096)
		for {
			n, err := master.Read(b)
			mu.Lock()
			shown.Write(b[:n])
			mu.Unlock()
			if err != nil {
				return // EIO once the child has closed the terminal
			}
		}
	}()
	// The prompt comes out before echo goes off: type only once the
	// terminal (whose settings the master end reads too) no longer echoes.
	var echo bool
	ready := waitFor(20*time.Second, func() bool {
		mu.Lock()
		prompted := strings.Contains(shown.String(), "one line on standard input")
		mu.Unlock()
		tio, err := unix.IoctlGetTermios(int(master.Fd()), unix.TCGETS)
		if err != nil {
			cmd.Process.Kill()
			t.Fatalf("read the terminal's settings: %v", err)
		}
		echo = tio.Lflag&unix.ECHO != 0
		return prompted && !echo
	})
	if !ready {
		cmd.Process.Kill()
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("after 20 s the terminal showed %q with echo %v; want the prompt, and echo off", shown.String(), echo)
	}
	fmt.Fprintf(master, "%s\n", key)
	err := cmd.Wait()
	master.Close()
	<-readDone
	mu.Lock()
	out := shown.String()
	mu.Unlock()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if strings.Contains(out, key) {
		t.Errorf("the terminal showed the key %q, want it hidden:\n%s", key, out)
	}
	switch s, err := keys.Get(secrets.Account("typed"), secrets.APIKey); {
	case err != nil:
		t.Errorf("keychain Get(typed, api key): %v, want the typed key", err)
	case s.Reveal() != key:
		t.Errorf("the keychain holds a key of %d bytes, want the typed key (%d bytes)", len(s.Reveal()), len(key))
	}
}

// openPTY opens a pseudo-terminal pair: the master end, and the terminal.
func openPTY(t *testing.T) (master, tty *os.File) {
	t.Helper()
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	fd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock the pseudo-terminal: %v", err)
	}
	n, err := unix.IoctlGetInt(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pseudo-terminal number: %v", err)
	}
	tty, err = os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open the terminal: %v", err)
	}
	t.Cleanup(func() { master.Close(); tty.Close() })
	return master, tty
}
