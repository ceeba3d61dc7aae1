package cloudtrail

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
)

// Input is one stream of records: a file, an S3 object, stdin.
type Input struct {
	Name string
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// Stats counts the work of a Process run.
type Stats struct {
	Inputs     atomic.Int64
	Records    atomic.Int64
	NotRecords atomic.Int64
	Bytes      atomic.Int64
	Errors     atomic.Int64

	mu    sync.Mutex
	empty []string
}

// Empty names the inputs read without error that held no CloudTrail
// record, sorted.
func (st *Stats) Empty() []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	e := slices.Clone(st.empty)
	slices.Sort(e)
	return e
}

func (st *Stats) addEmpty(name string) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.empty = append(st.empty, name)
}

// Process reads inputs with a pool of workers. Each worker decodes its
// inputs one at a time and hands each record to handle with its worker
// number, so per-worker state needs no locks. Memory is bounded by the
// number of workers, not the number of inputs: inputs arrive on a channel
// and each is streamed.
func Process(ctx context.Context, inputs <-chan Input, workers int, handle func(worker int, r *Record), onErr func(*InputError), st *Stats) {
	if workers < 1 {
		workers = 1
	}
	var errMu sync.Mutex
	report := func(e *InputError) {
		st.Errors.Add(1)
		errMu.Lock()
		defer errMu.Unlock()
		onErr(e)
	}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for in := range inputs {
				if ctx.Err() != nil {
					continue // drain so the producer never blocks
				}
				rc, err := in.Open(ctx)
				if err != nil {
					report(&InputError{Source: in.Name, Offset: -1, Err: err})
					continue
				}
				ds := Decode(in.Name, rc, func(r *Record) { handle(w, r) }, report)
				rc.Close()
				st.Inputs.Add(1)
				st.Records.Add(int64(ds.Records))
				st.NotRecords.Add(int64(ds.NotRecords))
				st.Bytes.Add(ds.Bytes)
				if ds.Records == 0 && ds.Errors == 0 {
					st.addEmpty(in.Name)
				}
			}
		}(w)
	}
	wg.Wait()
}

// IsLogFile reports whether a file met while walking a directory looks
// like CloudTrail output. Files named on the command line are always read;
// this only keeps READMEs and digests out of a recursive walk.
func IsLogFile(path string) bool {
	p := filepath.ToSlash(path)
	if strings.Contains(p, "/CloudTrail-Digest/") {
		return false
	}
	base := strings.ToLower(filepath.Base(p))
	for _, ext := range []string{".json", ".json.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".gz"} {
		if strings.HasSuffix(base, ext) {
			return true
		}
	}
	return false
}

// FileInputs sends an Input for each path: "-" is stdin, a directory is
// walked recursively (in lexical order) for log files. It closes out when
// done. Walk errors go to onErr; a directory without a single log file is
// added to stats' Empty list (stats may be nil).
func FileInputs(ctx context.Context, paths []string, stdin io.Reader, out chan<- Input, onErr func(*InputError), stats *Stats) {
	defer close(out)
	send := func(in Input) bool {
		select {
		case out <- in:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for _, p := range paths {
		if p == "-" {
			r := stdin
			if !send(Input{Name: "<stdin>", Open: func(context.Context) (io.ReadCloser, error) { return io.NopCloser(r), nil }}) {
				return
			}
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			onErr(&InputError{Source: p, Offset: -1, Err: unwrapPathErr(err)})
			continue
		}
		if !st.IsDir() {
			if !send(fileInput(p)) {
				return
			}
			continue
		}
		sent := 0
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				onErr(&InputError{Source: path, Offset: -1, Err: unwrapPathErr(err)})
				if d != nil && d.IsDir() {
					return fs.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				if d.Name() == "CloudTrail-Digest" {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || !IsLogFile(path) {
				return nil
			}
			if !send(fileInput(path)) {
				return ctx.Err()
			}
			sent++
			return nil
		})
		if err != nil && ctx.Err() != nil {
			return
		}
		if sent == 0 && stats != nil {
			stats.addEmpty(p + string(filepath.Separator) + " (no log files in it)")
		}
	}
}

func fileInput(path string) Input {
	return Input{Name: path, Open: func(context.Context) (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, unwrapPathErr(err)
		}
		return f, nil
	}}
}

// unwrapPathErr drops the path from *fs.PathError: InputError names it.
func unwrapPathErr(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
