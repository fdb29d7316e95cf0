package main

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
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		prompted := strings.Contains(shown.String(), "one line on standard input")
		mu.Unlock()
		if prompted {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("no prompt on the terminal; it showed %q", shown.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // echo is off once the prompt is out; let the read start
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
		t.Errorf("the terminal showed the key:\n%s", out)
	}
	if s, err := keys.Get(secrets.Account("typed"), secrets.APIKey); err != nil || s.Reveal() != key {
		t.Errorf("the keychain holds %v for the typed key", err)
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
