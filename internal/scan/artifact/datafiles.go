package artifact

import (
	"bytes"
	"cmp"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Raw weight files have no header: ONNX external data (model.onnx_data,
// *.onnx.data) and OpenVINO's openvino_model.bin are bytes that a model file
// beside them places tensors in, by offset and length. Like a checkpoint's
// data shard, such a file is recognised through the model that describes it
// (found by content among its siblings), and checked against it: every
// reference inside the file, and bytes that no tensor covers zero padding.
// Nothing in it is parsed, let alone run.

const (
	fmtONNXData     format = "onnx external data"
	fmtOpenVINOData format = "openvino weights"
	fmtOpenVINO     format = "openvino ir"
)

// maxSiblingModels bounds how many sibling files are opened to find the model
// that describes a raw data file; maxSiblingEntries how many directory entries
// are looked at.
const (
	maxSiblingModels  = 64
	maxSiblingEntries = 4096
	maxDataRefs       = 1 << 20
)

// dataRef is one tensor's place in a raw data file; length -1 runs to the end.
type dataRef struct {
	name           string // the tensor, for messages
	location       string // the data file as the model names it (ONNX)
	offset, length int64
}

// describedData finds the model beside the file at fsPath that places tensors
// in it: the OpenVINO IR of the same stem, or an ONNX model whose external
// data locations name it. It returns the format, the describing file's name and
// the references, or fmtUnknown.
func describedData(ctx context.Context, fsPath string, opts Options) (format, string, []dataRef) {
	if fsPath == "" {
		return fmtUnknown, "", nil
	}
	if strings.EqualFold(filepath.Ext(fsPath), ".bin") {
		xmlPath := strings.TrimSuffix(fsPath, filepath.Ext(fsPath)) + ".xml"
		if ir, ok := readOpenVINOFile(ctx, xmlPath); ok {
			return fmtOpenVINOData, filepath.Base(xmlPath), ir.consts
		}
	}
	dir := filepath.Dir(fsPath)
	d, err := os.Open(dir)
	if err != nil {
		return fmtUnknown, "", nil
	}
	names, _ := d.Readdirnames(maxSiblingEntries)
	d.Close()
	self := filepath.Clean(fsPath)
	slices.Sort(names)
	opened := 0
	var by []string
	var all []dataRef
	for _, name := range names {
		p := filepath.Join(dir, name)
		if p == self || opened >= maxSiblingModels || ctx.Err() != nil {
			continue
		}
		refs, isONNX := onnxRefsTo(ctx, p, self, opts)
		if isONNX {
			opened++
		}
		if len(refs) > 0 && len(all) < maxDataRefs {
			// Several models may share one data file (an export's decoder
			// variants): the tensors of all of them cover it.
			by = append(by, name)
			all = append(all, refs...)
		}
	}
	if len(by) == 0 {
		return fmtUnknown, "", nil
	}
	return fmtONNXData, strings.Join(by, ", "), all
}

// onnxRefsTo reads the file at p when it is an ONNX model and returns its
// external data references that resolve to the file target.
func onnxRefsTo(ctx context.Context, p, target string, opts Options) ([]dataRef, bool) {
	f, err := os.Open(p)
	if err != nil {
		return nil, false
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil, false
	}
	var head [64]byte
	n, _ := f.ReadAt(head[:], 0)
	if !looksONNX(head[:n]) {
		return nil, false
	}
	s := newScanner(opts) // its findings are the ONNX file's own, reported when it is scanned
	in := s.regionAt(f, 0, st.Size(), loc{file: p, fileOff: 0})
	w := &onnxWalker{protoWalk: protoWalk{s: s, in: in, format: "onnx", name: "ONNX", maxDepth: 64, stop: errONNXStop},
		localDoms: map[string]bool{}, nodeDoms: map[string]string{}, collect: true}
	_ = w.walk(ctx, onnxModel, st.Size(), 0)
	var refs []dataRef
	for _, r := range w.refs {
		loc := strings.ReplaceAll(r.location, `\`, "/")
		if !filepath.IsAbs(loc) && filepath.Clean(filepath.Join(filepath.Dir(p), loc)) == target {
			refs = append(refs, r)
		}
	}
	return refs, true
}

// scanDescribedData checks a raw data file against the model beside it that
// describes it; handled is false when none does.
func (s *scanner) scanDescribedData(ctx context.Context, in region) (handled bool, err error) {
	if s.fsPath == "" || in.l.member != "" || in.ra == nil || in.size < 0 {
		return false, nil
	}
	f, by, refs := describedData(ctx, s.fsPath, s.opts)
	if err := ctx.Err(); err != nil {
		return true, err
	}
	if f == fmtUnknown {
		return false, nil
	}
	what := map[format]string{fmtONNXData: "ONNX external data", fmtOpenVINOData: "OpenVINO weights"}[f]
	ev := map[string]any{"format": string(f), "described_by": by}
	var spans []byteSpan
	var past int64
	var pastMsg string
	for _, r := range refs {
		end := r.offset + r.length
		if r.length < 0 {
			end = in.size
		}
		if r.offset < 0 || r.offset > in.size || end < r.offset || end > in.size {
			if past++; past == 1 {
				pastMsg = fmt.Sprintf("%s places tensor %q at offset %d, %d bytes", by, quote(r.name, 80), r.offset, r.length)
			}
			continue
		}
		spans = append(spans, byteSpan{r.offset, end})
	}
	if past > 0 {
		s.c.add(in.l, ruleStructPastEnd, -1, ev, what, fmt.Sprintf("%s, past the end of this %d-byte file (%d such tensors)", pastMsg, in.size, past))
	}
	gaps, uncovered, _ := uncoveredSpans(spans, in.size)
	return true, s.reportUncovered(ctx, in, gaps, uncovered, ev, what,
		fmt.Sprintf("%d bytes of the file are used by no tensor of %s and are not zero padding", uncovered, by))
}

// reportUncovered reports the bytes of a data file that nothing describes
// (gaps, uncovered in all) when they are not zero padding, with msg, and scans
// them as content of their own.
func (s *scanner) reportUncovered(ctx context.Context, in region, gaps []byteSpan, uncovered int64, ev map[string]any, what, msg string) error {
	if uncovered == 0 {
		return nil
	}
	nz, off := nonZeroGap(in.ra, gaps, uncovered)
	if !nz {
		return nil
	}
	s.c.add(in.l, ruleStructGap, off, ev, what, msg)
	return s.scanGaps(ctx, in, gaps, uncovered)
}

func sortSpans(spans []byteSpan) {
	slices.SortFunc(spans, func(a, b byteSpan) int { return cmp.Compare(a.off, b.off) })
}

// uncoveredSpans returns the parts of [0, size) that no span covers, their
// total, and how many spans start inside bytes an earlier span covers.
func uncoveredSpans(spans []byteSpan, size int64) (gaps []byteSpan, total, overlaps int64) {
	sortSpans(spans)
	cur := int64(0)
	for _, sp := range spans {
		if sp.off < cur {
			overlaps++
		} else if sp.off > cur {
			gaps = append(gaps, byteSpan{cur, sp.off})
			total += sp.off - cur
		}
		cur = max(cur, sp.end)
	}
	if cur < size {
		gaps = append(gaps, byteSpan{cur, size})
		total += size - cur
	}
	return gaps, total, overlaps
}

// ---- OpenVINO IR ----

// An OpenVINO IR is an XML graph (openvino_model.xml) of layers, each with a
// type and the operation set ("opset1" … ) it comes from, and the weights file
// of the same stem that its Const layers index by offset and size. Operation
// sets that OpenVINO does not ship are extensions: native libraries the
// application loads.

var openvinoOpset = regexp.MustCompile(`^opset[0-9]{1,3}$`)

// openvinoTokenizerOps are the operations of Intel's openvino-tokenizers
// extension (the OpExtensions its 2026.4 library registers, version
// "extension"), which optimum-intel's openvino_tokenizer.xml and
// openvino_detokenizer.xml use: a published extension, not a model's own code.
var openvinoTokenizerOps = setOf("BPETokenizer", "ByteFallback", "BytesToChars", "CaseFold", "CharsMapNormalization",
	"CharsToBytes", "CombineSegments", "ContribStringJoin", "ContribStringSplit", "EqualStr", "FuzeRagged",
	"NormalizeUnicode", "NumericToString", "RaggedTensorPack", "RaggedToDense", "RaggedToRagged", "RaggedToSparse",
	"RegexNormalization", "RegexSplit", "SentencepieceDetokenizer", "SentencepieceStreamDetokenizer",
	"SentencepieceTokenizer", "SpecialTokensSplit", "StringTensorPack", "StringTensorUnpack", "StringToHashBucket",
	"TrieTokenizer", "Truncate", "UTF8Validate", "UnigramTokenizer", "VocabDecoder", "VocabEncoder", "WordpieceTokenizer")

// looksOpenVINO: an XML document whose root element is <net ...>.
func looksOpenVINO(head []byte) bool {
	b := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if bytes.HasPrefix(b, []byte("<?xml")) {
		i := bytes.Index(b, []byte("?>"))
		if i < 0 {
			return false
		}
		b = bytes.TrimLeft(b[i+2:], " \t\r\n")
	}
	return bytes.HasPrefix(b, []byte("<net ")) || bytes.HasPrefix(b, []byte("<net\n")) || bytes.HasPrefix(b, []byte("<net\t"))
}

// openvinoIR is what the scanner reads of an IR.
type openvinoIR struct {
	custom [][2]string // distinct (type, version) pairs outside opsetN
	consts []dataRef
	err    string // why the XML could not be read through
}

// maxOpenVINOTokens bounds the XML tokens read from one IR.
const maxOpenVINOTokens = 1 << 24

// readOpenVINO reads an IR's layers from r.
func readOpenVINO(ctx context.Context, r io.Reader) openvinoIR {
	var ir openvinoIR
	seen := map[[2]string]bool{}
	dec := xml.NewDecoder(r)
	dec.Strict = true
	layerType, depth := "", 0
	for tokens := 0; ; tokens++ {
		if tokens%4096 == 0 && ctx.Err() != nil {
			ir.err = ctx.Err().Error()
			return ir
		}
		if tokens >= maxOpenVINOTokens {
			ir.err = "too many XML tokens"
			return ir
		}
		tok, err := dec.Token()
		if err == io.EOF {
			if depth != 0 {
				ir.err = "XML ends inside an element"
			}
			return ir
		}
		if err != nil {
			ir.err = err.Error()
			return ir
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > 64 {
				ir.err = "XML nests deeper than 64 elements"
				return ir
			}
			switch t.Name.Local {
			case "layer":
				typ, ver := attr(t, "type"), attr(t, "version")
				layerType = typ
				k := [2]string{typ, ver}
				known := openvinoOpset.MatchString(ver) || ver == "extension" && openvinoTokenizerOps[typ]
				if !known && !seen[k] && len(seen) < 1024 {
					seen[k] = true
					ir.custom = append(ir.custom, k)
				}
			case "data":
				if layerType == "Const" && len(ir.consts) < maxDataRefs {
					off, err1 := strconv.ParseInt(attr(t, "offset"), 10, 64)
					size, err2 := strconv.ParseInt(attr(t, "size"), 10, 64)
					if err1 == nil && err2 == nil && size >= 0 {
						ir.consts = append(ir.consts, dataRef{name: attr(t, "element_type") + " " + attr(t, "shape"), offset: off, length: size})
					}
				}
			}
		case xml.EndElement:
			depth--
			if t.Name.Local == "layer" {
				layerType = ""
			}
		}
	}
}

func attr(e xml.StartElement, name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// readOpenVINOFile reads the IR at p when it is one.
func readOpenVINOFile(ctx context.Context, p string) (openvinoIR, bool) {
	f, err := os.Open(p)
	if err != nil {
		return openvinoIR{}, false
	}
	defer f.Close()
	var head [512]byte
	n, _ := f.ReadAt(head[:], 0)
	if !looksOpenVINO(head[:n]) {
		return openvinoIR{}, false
	}
	ir := readOpenVINO(ctx, f)
	return ir, ir.err == ""
}

// scanOpenVINO reports layers from extension operation sets, and an IR that
// does not read through.
func (s *scanner) scanOpenVINO(ctx context.Context, in region) error {
	var r io.Reader = eofReader{in.st}
	if in.ra != nil && in.size >= 0 {
		r = io.NewSectionReader(in.ra, 0, in.size)
	}
	ir := readOpenVINO(ctx, r)
	if err := ctx.Err(); err != nil {
		return err
	}
	if ir.err != "" {
		s.c.add(in.l, ruleStructInvalid, -1, map[string]any{"format": string(fmtOpenVINO)}, "OpenVINO IR", ir.err)
	}
	for _, k := range ir.custom {
		s.c.add(in.l, ruleOpenVINOCustom, -1, map[string]any{"format": string(fmtOpenVINO), "type": quote(k[0], 100), "version": quote(k[1], 100)}, quote(k[0], 100), quote(k[1], 100))
	}
	return nil
}

// ---- sharded checkpoint indexes ----

// checkWeightMap reports weight_map entries of a sharded checkpoint index
// (model.safetensors.index.json, pytorch_model.bin.index.json) that leave the
// model's folder: transformers joins each onto the folder and loads it.
func (s *scanner) checkWeightMap(l loc, obj map[string]any) {
	wm, ok := obj["weight_map"].(map[string]any)
	if !ok {
		return
	}
	for _, v := range wm {
		p, ok := v.(string)
		if !ok || !(unsafeMemberName(p) || strings.HasPrefix(p, "~") || strings.Contains(p, "://")) {
			continue
		}
		s.c.add(l, ruleHFWeightMapPath, -1, map[string]any{"path": quote(p, 200)}, quote(p, 200))
	}
}

// eofReader reads a stream to its end, which the stream reports as
// errTruncated when a limit cuts it.
type eofReader struct{ st *stream }

func (r eofReader) Read(p []byte) (int, error) {
	n, err := r.st.Read(p)
	if errors.Is(err, errTruncated) {
		err = io.EOF
	}
	return n, err
}
