package main

import (
	"bufio"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/weft-server/weft/internal/loadgen"
)

var bannerAddr = regexp.MustCompile(`http://([^/ ]+)/`)

// bench runs every engine in turn as its own `weft serve` process and
// loads it with the built-in client, printing one table.
func bench(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("weft bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		duration = fs.Duration("duration", 3*time.Second, "length of each engine's run")
		conns    = fs.Int("conns", 64, "concurrent keep-alive connections")
		path     = fs.String("path", "/", "request target")
		engines  = fs.String("engines", "epoll,uring,goroutine,poll,process,thread,serial", "comma-separated engines to measure")
	)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: weft bench [flags] [DIR]\n\nServes DIR (the built-in sample site when omitted) with each engine in turn, on 127.0.0.1,\nand measures it with closed-loop keep-alive clients. For comparisons with other servers, use bench/run.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	positional, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(positional) > 1 || *conns <= 0 || *duration <= 0 {
		fmt.Fprintln(stderr, "weft bench: one DIR at most; --conns and --duration must be positive")
		return errUsage
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "weft bench: GET %s, %d connections, %v per engine; servers are separate processes on 127.0.0.1\n\n", *path, *conns, *duration)
	fmt.Fprintln(stdout, "| engine | req/s | p50 | p99 | clients served | errors | server CPU s | req per CPU-s |")
	fmt.Fprintln(stdout, "|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, eng := range strings.Split(*engines, ",") {
		eng = strings.TrimSpace(eng)
		if ctx.Err() != nil {
			break
		}
		row, err := benchOne(ctx, exe, positional, eng, *path, *conns, *duration)
		if err != nil {
			fmt.Fprintf(stdout, "| %s | error: %v |||||||\n", eng, err)
			continue
		}
		fmt.Fprintln(stdout, row)
	}
	return nil
}

func benchOne(ctx context.Context, exe string, dir []string, eng, path string, conns int, d time.Duration) (string, error) {
	args := append([]string{"serve"}, dir...)
	// --config '': the engines on the defaults, whatever weft.toml is here.
	args = append(args, "--config", "", "--addr", "127.0.0.1:0", "--engine", eng, "--no-access-log", "--max-conns", "20000")
	cmd := exec.Command(exe, args...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	// The child's stderr is copied by os/exec's goroutine while this one
	// may read it: a locked buffer, not a bare strings.Builder.
	errBuf := &syncBuffer{}
	cmd.Stderr = errBuf
	if err := cmd.Start(); err != nil {
		return "", err
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	line, _ := bufio.NewReader(out).ReadString('\n')
	m := bannerAddr.FindStringSubmatch(line)
	if m == nil {
		return "", fmt.Errorf("server did not start: %s", strings.TrimSpace(errBuf.String()))
	}
	go io.Copy(io.Discard, out)
	addr := strings.Replace(m[1], "localhost:", "127.0.0.1:", 1)
	cpu0, cpuOK := loadgen.TreeCPU(cmd.Process.Pid)
	r, err := loadgen.Run(ctx, loadgen.Config{Addr: addr, Path: path, Conns: conns, Duration: d})
	if err != nil {
		return "", err
	}
	cpu := "-"
	eff := "-"
	if cpu1, ok := loadgen.TreeCPU(cmd.Process.Pid); ok && cpuOK {
		cpu = fmt.Sprintf("%.2f", cpu1-cpu0)
		if cpu1 > cpu0 {
			eff = fmt.Sprintf("%.0f", float64(r.Requests)/(cpu1-cpu0))
		}
	}
	return fmt.Sprintf("| %s | %.0f | %v | %v | %d of %d | %d | %s | %s |", eng, r.RPS(),
		r.Quantile(0.5).Round(time.Microsecond), r.Quantile(0.99).Round(time.Microsecond), r.Served, conns, r.Errors, cpu, eff), nil
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
