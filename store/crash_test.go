package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ipfs/go-cid"
)

// childEnv makes the test binary act as a child process for the tests
// below: "hold DIR" keeps the store open until stdin closes, "write DIR"
// writes receipts and blobs until killed, printing each acknowledged one.
const childEnv = "IPVM_STORE_TEST_CHILD"

func TestMain(m *testing.M) {
	if arg := os.Getenv(childEnv); arg != "" {
		os.Exit(child(arg))
	}
	code := m.Run()
	if readFixture.s != nil { // the read benchmarks' shared store
		readFixture.s.Close()
		os.RemoveAll(readFixture.s.Dir())
	}
	os.Exit(code)
}

func child(arg string) int {
	mode, dir, _ := strings.Cut(arg, " ")
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	switch mode {
	case "hold":
		fmt.Println("ready")
		io.Copy(io.Discard, os.Stdin)
	case "write":
		childWrite(s)
	}
	s.Close()
	return 0
}

// childWrite runs four receipt writers and one blob writer. A line is
// printed only after the call returned nil, i.e. after the data was synced:
// what the parent reads is exactly what was acknowledged.
func childWrite(s *Store) {
	ctx := context.Background()
	start, _ := strconv.Atoi(os.Getenv(childEnv + "_START"))
	var out sync.Mutex
	ack := func(format string, a ...any) {
		out.Lock()
		fmt.Printf(format+"\n", a...) // one write(2) per line, unbuffered
		out.Unlock()
	}
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := start + w; ; i += 4 {
				task, rcpt, b := fakeReceipt(nopTB{}, i, 300)
				if err := s.PutReceipt(ctx, task, rcpt, b); err != nil {
					ack("error %v", err)
					return
				}
				ack("receipt %d", i)
			}
		})
	}
	wg.Go(func() {
		for i := start; ; i++ {
			root, _, err := s.AddFile(ctx, bytes.NewReader(blobData(i)))
			if err != nil {
				ack("error %v", err)
				return
			}
			ack("blob %d %s", i, root)
		}
	})
	wg.Wait()
}

// blobData is a deterministic three-chunk file for i.
func blobData(i int) []byte {
	b := make([]byte, 600<<10)
	r := rand.New(rand.NewPCG(uint64(i), 7))
	for j := range b {
		b[j] = byte(r.Uint32())
	}
	return b
}

// nopTB lets fakeReceipt run outside a test; it never fails for the inputs
// childWrite gives it.
type nopTB struct{ testing.TB }

func (nopTB) Helper()               {}
func (nopTB) Fatal(args ...any)     { panic(fmt.Sprint(args...)) }
func (nopTB) Fatalf(string, ...any) { panic("fatal") }

func childCmd(t *testing.T, mode, dir string, extraEnv ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append(extraEnv, childEnv+"="+mode+" "+dir)...)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestLockedByProcess: a store held by another process is refused with
// ErrLocked, and can be opened once that process is gone.
func TestLockedByProcess(t *testing.T) {
	dir := t.TempDir()
	cmd := childCmd(t, "hold", dir)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Skipf("cannot start a child process: %v", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		t.Fatalf("child said %q, %v", line, err)
	}
	_, err = Open(dir, Options{})
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "repo locked by another process") {
		t.Errorf("Open while another process holds the repo: %v, want ErrLocked", err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("Open after the child exited: %v", err)
	}
	s.Close()
}

// TestKill9 kills a writing process with SIGKILL at a random moment, three
// times over the same repo, and checks after each that the store opens as it
// is and holds every receipt and blob the child acknowledged, byte for byte.
func TestKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns processes")
	}
	ctx := context.Background()
	dir := t.TempDir()
	receipts := map[int]bool{}
	blobs := map[int]cid.Cid{}
	for round := range 3 {
		start := round * 1_000_000
		cmd := childCmd(t, "write", dir, fmt.Sprintf("%s_START=%d", childEnv, start))
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Skipf("cannot start a child process: %v", err)
		}
		killAfter := 50 + rand.IntN(300)
		r := bufio.NewReader(stdout)
		acks, killed := 0, false
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				break // EOF after the kill; a partial last line is not an ack
			}
			f := strings.Fields(line)
			switch f[0] {
			case "receipt":
				i, _ := strconv.Atoi(f[1])
				receipts[i] = true
			case "blob":
				i, _ := strconv.Atoi(f[1])
				c, err := cid.Decode(f[2])
				if err != nil {
					t.Fatal(err)
				}
				blobs[i] = c
			default:
				t.Fatalf("child: %s", line)
			}
			if acks++; acks == killAfter && !killed {
				cmd.Process.Signal(syscall.SIGKILL)
				killed = true
			}
		}
		err := cmd.Wait()
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v, want killed by SIGKILL", round, err)
		}

		s, err := Open(dir, Options{})
		if err != nil {
			t.Fatalf("round %d: Open after kill -9: %v", round, err)
		}
		for i := range receipts {
			task, rcpt, want := fakeReceipt(t, i, 300)
			got, err := s.Receipt(ctx, rcpt)
			if err != nil || !bytes.Equal(got, want) {
				t.Errorf("round %d: receipt %d: %v", round, i, err)
			}
			gc, gb, err := s.ReceiptForTask(ctx, task)
			if err != nil || !gc.Equals(rcpt) || !bytes.Equal(gb, want) {
				t.Errorf("round %d: receipt for task %d: %v", round, i, err)
			}
		}
		for i, c := range blobs {
			got, err := s.Cat(ctx, c, -1)
			if err != nil || !bytes.Equal(got, blobData(i)) {
				t.Errorf("round %d: blob %d (%s): %v", round, i, c, err)
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		t.Logf("round %d: killed after %d acks; %d receipts and %d blobs acknowledged in all, all present",
			round, acks, len(receipts), len(blobs))
	}
	if len(receipts) == 0 || len(blobs) == 0 {
		t.Error("the child acknowledged nothing")
	}
}
