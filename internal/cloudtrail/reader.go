package cloudtrail

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// Shape is the outer form of a CloudTrail file.
type Shape string

// The shapes Decode recognises from the first bytes of the data.
const (
	ShapeRecords Shape = "records"    // {"Records":[...]} as CloudTrail writes to S3
	ShapeArray   Shape = "array"      // [...] as exported by some tools
	ShapeLines   Shape = "json-lines" // one record per line (or concatenated objects)
)

// Limits on hostile input.
const (
	// MaxRecordSize is the largest single record accepted. CloudTrail caps
	// a record at 256 KB; exports with huge responseElements run larger.
	MaxRecordSize = 16 << 20
	chunkSize     = 1 << 20

	// MaxCompressionRatio is the most a gzip stream may expand (decompressed
	// bytes per compressed byte) once past ratioFloor: CloudTrail JSON
	// compresses 10 to 30 times, deflate's ceiling is about 1032, so a
	// stream above this is a bomb, not a log.
	MaxCompressionRatio = 200
	ratioFloor          = 16 << 20
)

// maxDecompressed caps one gzip stream's decompressed size whatever its
// ratio (a variable so tests need not inflate 16 GB).
var maxDecompressed int64 = 16 << 30

// InputError is a problem with one input: which one, where (the byte
// offset in the decompressed stream, -1 when unknown) and what.
type InputError struct {
	Source string
	Offset int64
	Err    error
}

func (e *InputError) Error() string {
	if e.Offset >= 0 {
		return fmt.Sprintf("%s: offset %d: %v", e.Source, e.Offset, e.Err)
	}
	return fmt.Sprintf("%s: %v", e.Source, e.Err)
}

func (e *InputError) Unwrap() error { return e.Err }

// DecodeStats counts what Decode read.
type DecodeStats struct {
	Shape   Shape
	Records int
	// NotRecords counts well-formed objects skipped because they carry
	// none of eventName, eventTime, eventSource: JSON, but not CloudTrail.
	NotRecords int
	Bytes      int64
	Errors     int
}

// Decode reads every record of one input, gzip-compressed or not, in any of
// the three shapes, calling fn for each. A malformed record is reported
// through onErr with its byte offset and reading goes on where it can: the
// next line for JSON lines, the next element for an array element that is
// well-formed JSON but not a record. A syntax error inside an array ends
// that input (there is no safe place to resume). fn must not keep the
// record or its strings beyond the call without copying them.
func Decode(name string, r io.Reader, fn func(*Record), onErr func(*InputError)) DecodeStats {
	br := bufio.NewReaderSize(r, 64<<10)
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		in := &countingReader{r: br}
		zr, err := gzip.NewReader(in)
		if err != nil {
			onErr(&InputError{Source: name, Offset: 0, Err: fmt.Errorf("gzip: %w", err)})
			return DecodeStats{Errors: 1}
		}
		defer zr.Close()
		d := newDecoder(name, &bombGuard{r: zr, in: in}, fn, onErr)
		defer d.release()
		d.run()
		return d.stats
	}
	d := newDecoder(name, br, fn, onErr)
	defer d.release()
	d.run()
	return d.stats
}

// countingReader counts the compressed bytes read (keeping ReadByte, so
// the inflater reads from br directly, without a buffer of its own).
type countingReader struct {
	r *bufio.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// bombGuard ends a gzip stream that inflates past maxDecompressed, or
// past MaxCompressionRatio once beyond ratioFloor. The error surfaces as
// the input's read error, at the decompressed offset where it happened.
type bombGuard struct {
	r  io.Reader
	in *countingReader
	n  int64
}

func (g *bombGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	g.n += int64(n)
	switch {
	case g.n > maxDecompressed:
		return n, fmt.Errorf("gzip: decompressed data larger than %d bytes", maxDecompressed)
	case g.n > ratioFloor && g.n > MaxCompressionRatio*g.in.n:
		return n, fmt.Errorf("gzip: %d compressed bytes inflated to %d (over %d times): a gzip bomb, not a log", g.in.n, g.n, MaxCompressionRatio)
	}
	return n, err
}

func newDecoder(name string, r io.Reader, fn func(*Record), onErr func(*InputError)) *decoder {
	d := &decoder{name: name, r: r, fn: fn, onErr: onErr}
	d.s.b = (*bufPool.Get().(*[]byte))[:0]
	d.spare = (*bufPool.Get().(*[]byte))[:0]
	return d
}

type decoder struct {
	name  string
	r     io.Reader
	fn    func(*Record)
	onErr func(*InputError)
	stats DecodeStats

	// s.b holds stream bytes from offset base.
	base  int64
	eof   bool
	rerr  error
	s     scanner
	spare []byte
	rec   Record
	// badSyntax is set when the last record was not well-formed JSON.
	badSyntax bool
}

func (d *decoder) report(off int64, err error) {
	d.stats.Errors++
	d.onErr(&InputError{Source: d.name, Offset: off, Err: err})
}

// fill reads more input, keeping bytes from keep onwards. Two buffers
// alternate (from a pool shared by all decoders), so the bytes behind the
// record just handed to fn stay intact until the next record is decoded:
// that is the lifetime Decode promises.
func (d *decoder) fill(keep int) bool {
	if d.eof {
		return false
	}
	rest := d.s.b[keep:]
	if len(rest) > MaxRecordSize {
		return false
	}
	size := chunkSize
	for size < 2*len(rest) {
		size *= 2
	}
	nb := d.spare
	if cap(nb) < size {
		nb = make([]byte, 0, size)
	}
	nb = nb[:len(rest)]
	copy(nb, rest)
	d.spare = d.s.b[:0]
	d.base += int64(keep)
	d.s.pos -= keep
	for len(nb) < cap(nb) {
		n, err := d.r.Read(nb[len(nb):cap(nb)])
		nb = nb[:len(nb)+n]
		d.stats.Bytes += int64(n)
		if err != nil {
			d.eof = true
			if err != io.EOF {
				d.rerr = err
			}
			break
		}
	}
	d.s.b = nb
	return true
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, chunkSize); return &b }}

func (d *decoder) release() {
	for _, b := range [][]byte{d.s.b, d.spare} {
		if cap(b) == chunkSize {
			b = b[:0]
			bufPool.Put(&b)
		}
	}
	d.s.b, d.spare = nil, nil
}

// try runs step from the current position, refilling and retrying while
// the buffer ends inside the value. It returns step's error, with
// errIncomplete meaning the input ended (or the value is too large).
// ws is the scanner's ws, reading more input while the buffer holds only
// whitespace.
func (d *decoder) ws() (c byte, err error) {
	err = d.try(func() error {
		c, err = d.s.ws()
		return err
	})
	return c, err
}

func (d *decoder) try(step func() error) error {
	start := d.s.pos
	for {
		err := step()
		if err != errIncomplete {
			return err
		}
		if !d.fill(start) {
			if len(d.s.b)-start > MaxRecordSize {
				return &SyntaxError{Offset: int64(start), Msg: fmt.Sprintf("record larger than %d bytes", MaxRecordSize)}
			}
			return errIncomplete
		}
		start = 0
		d.s.pos = 0
	}
}

func (d *decoder) offset() int64 { return d.base + int64(d.s.pos) }

func (d *decoder) wrapErr(err error) (int64, error) {
	var se *SyntaxError
	if errors.As(err, &se) {
		return d.base + se.Offset, errors.New(se.Msg)
	}
	if err == errIncomplete {
		if d.rerr != nil {
			return d.offset(), d.rerr
		}
		return d.base + int64(len(d.s.b)), errors.New("unexpected end of input")
	}
	return d.offset(), err
}

func (d *decoder) run() {
	// Skip a UTF-8 byte order mark and find the first value.
	var first byte
	err := d.try(func() error {
		if len(d.s.b)-d.s.pos >= 3 && d.s.b[d.s.pos] == 0xef && d.s.b[d.s.pos+1] == 0xbb && d.s.b[d.s.pos+2] == 0xbf {
			d.s.pos += 3
		}
		c, err := d.s.ws()
		first = c
		return err
	})
	if err == errIncomplete && d.rerr == nil {
		return // empty input: no records
	}
	if err != nil {
		d.report(d.wrapErr(err))
		return
	}
	switch first {
	case '[':
		d.stats.Shape = ShapeArray
		d.s.pos++
		d.array()
	case '{':
		// {"Records": ...} or a record (JSON lines). Peek at the first key.
		start := d.s.pos
		var key string
		err := d.try(func() error {
			d.s.pos = start
			d.s.pos++
			c, err := d.s.ws()
			if err != nil {
				return err
			}
			if c != '"' {
				return nil
			}
			k, err := d.s.str()
			key = k
			if err != nil {
				return err
			}
			if key == "Records" {
				if err := d.s.expect(':'); err != nil {
					return err
				}
				return d.s.expect('[')
			}
			return nil
		})
		if err != nil {
			d.report(d.wrapErr(err))
			return
		}
		if key == "Records" {
			d.stats.Shape = ShapeRecords
			if d.array() {
				d.trailer()
			}
			return
		}
		d.s.pos = 0
		d.stats.Shape = ShapeLines
		d.lines()
	default:
		d.report(d.offset(), fmt.Errorf("not CloudTrail JSON: starts with %q", first))
	}
}

// array reads records up to the closing bracket; false if it stopped on
// an error.
func (d *decoder) array() bool {
	for i := 0; ; i++ {
		c, err := d.ws()
		if err != nil {
			d.report(d.wrapErr(err))
			return false
		}
		if c == ']' {
			d.s.pos++
			return true
		}
		if i > 0 {
			if c != ',' {
				d.report(d.offset(), fmt.Errorf("expected ',' or ']' after a record, found %q", c))
				return false
			}
			d.s.pos++
		}
		if c, err = d.ws(); err != nil {
			d.report(d.wrapErr(err))
			return false
		}
		if c != '{' {
			// Well-formed JSON that is not a record: report, skip, go on.
			off := d.offset()
			if err := d.try(func() error { return d.s.skip(0) }); err != nil {
				d.report(d.wrapErr(err))
				return false
			}
			d.report(off, fmt.Errorf("array element is not a record object (starts with %q)", c))
			continue
		}
		if !d.record(false) {
			return false
		}
	}
}

// record decodes one record at pos and hands it to fn. With resync it
// reports a syntax error and returns true so the caller can skip to the
// next line; otherwise a syntax error ends the input.
func (d *decoder) record(resync bool) bool {
	startAbs := d.offset()
	err := d.try(func() error {
		d.s.pos = int(startAbs - d.base)
		return decodeRecord(&d.s, &d.rec)
	})
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			d.report(startAbs, err)
			return true
		}
		off, e := d.wrapErr(err)
		d.report(off, e)
		d.badSyntax = true
		if startAbs >= d.base {
			// Resume on the line after the record's start, not after the
			// point where the parser noticed the damage.
			d.s.pos = int(startAbs - d.base)
		}
		return resync && err != errIncomplete
	}
	if size := d.offset() - startAbs; size > MaxRecordSize {
		// The buffer grows in doubling steps, so a record somewhat over
		// the limit can fit in it whole: the limit is the record's size.
		d.report(startAbs, fmt.Errorf("record larger than %d bytes (%d)", MaxRecordSize, size))
		return true
	}
	if d.rec.EventName == "" && d.rec.EventSource == "" && d.rec.EventTime.IsZero() {
		d.stats.NotRecords++
		return true
	}
	d.stats.Records++
	d.fn(&d.rec)
	return true
}

// trailer consumes the rest of {"Records":[...] ... }.
func (d *decoder) trailer() {
	for {
		c, err := d.ws()
		if err != nil {
			d.report(d.wrapErr(err))
			return
		}
		d.s.pos++
		if c == '}' {
			d.tail()
			return
		}
		if c != ',' {
			d.s.pos--
			d.report(d.offset(), fmt.Errorf("expected ',' or '}', found %q", c))
			return
		}
		err = d.try(func() error {
			if _, err := d.s.ws(); err != nil {
				return err
			}
			if _, err := d.s.str(); err != nil {
				return err
			}
			if err := d.s.expect(':'); err != nil {
				return err
			}
			return d.s.skip(0)
		})
		if err != nil {
			d.report(d.wrapErr(err))
			return
		}
	}
}

// tail checks that only whitespace follows the document.
func (d *decoder) tail() {
	err := d.try(func() error { _, err := d.s.ws(); return err })
	if err == errIncomplete && d.rerr == nil {
		return
	}
	if err != nil {
		d.report(d.wrapErr(err))
		return
	}
	d.report(d.offset(), errors.New("unexpected data after the end of the document"))
}

// lines reads records separated by whitespace (JSON lines, or objects
// simply concatenated). After a malformed record it resumes at the next
// line.
func (d *decoder) lines() {
	for {
		c, err := d.ws()
		if err == errIncomplete && d.rerr == nil {
			return
		}
		if err != nil {
			d.report(d.wrapErr(err))
			return
		}
		if c != '{' {
			d.report(d.offset(), fmt.Errorf("expected a record object, found %q", c))
			if !d.nextLine() {
				return
			}
			continue
		}
		d.badSyntax = false
		if !d.record(true) {
			return
		}
		if d.badSyntax && !d.nextLine() {
			return
		}
	}
}

// nextLine moves past the next newline; false at end of input.
func (d *decoder) nextLine() bool {
	for {
		for d.s.pos < len(d.s.b) {
			c := d.s.b[d.s.pos]
			d.s.pos++
			if c == '\n' {
				return true
			}
		}
		if !d.fill(d.s.pos) {
			return false
		}
	}
}
