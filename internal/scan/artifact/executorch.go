package artifact

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"
)

// ---- ExecuTorch ----

// An ExecuTorch program (.pte) is a FlatBuffer (identifier "ET12"; earlier
// releases "ET" and two other digits), optionally followed by data segments
// that an extended header ("eh00" at offset 8) locates. It holds no Python: the
// runtime runs the kernels its operators name, from the kernel libraries the
// application links, and hands delegated subgraphs to backends by id. So what
// a file can make the runtime run is what it names: an operator outside
// ExecuTorch's own kernel libraries, or a backend ExecuTorch does not ship,
// needs native code the application registers (as a TFLite custom op does);
// the CUDA and Metal backends (AOTInductor) carry a compiled shared library in
// the delegate payload, which the runtime loads and runs. Schema:
// executorch/schema/program.fbs (Program: execution_plan 1, segments 4;
// ExecutionPlan: operators 6, delegates 7; Operator: name 0; BackendDelegate:
// id 0; DataSegment: offset 0, size 1).

const fmtExecuTorch format = "executorch"

// executorchKernelNamespaces are the operator namespaces of the kernel
// libraries ExecuTorch builds (portable and optimized ATen kernels, its prims,
// quantized, dim-order, copy, LLM, torchao, Cadence and Cortex-M kernels).
var executorchKernelNamespaces = setOf("aten", "executorch_prim", "dim_order_ops", "quantized_decomposed", "et_copy",
	"llama", "torchao", "cadence", "cortex_m")

// executorchBackends are the delegate ids of the backends ExecuTorch ships
// (executorch 1.5's BackendDetails classes, and MPS of earlier releases).
var executorchBackends = setOf("XnnpackBackend", "CoreMLBackend", "MPSBackend", "QnnBackend", "VulkanBackend",
	"EthosUBackend", "VgfBackend", "TOSABackend", "NeuropilotBackend", "NeutronBackend", "EnnBackend", "OpenvinoBackend",
	"MLXBackend", "CoreAIBackend", "CudaBackend", "MetalBackend")

// executorchNativeBackends are the backends whose payload is a compiled shared
// library (AOTInductor).
var executorchNativeBackends = setOf("CudaBackend", "MetalBackend")

// Bounds on what one program is read for.
const (
	maxExecuTorchPlans   = 64
	maxExecuTorchItems   = 1 << 14 // operators, delegates or segments per vector
	maxExecuTorchEntries = 1 << 16 // operator and delegate entries over all plans
)

func looksExecuTorch(head []byte) bool {
	return len(head) >= 8 && head[4] == 'E' && head[5] == 'T' && isDigit(head[6]) && isDigit(head[7]) &&
		binary.LittleEndian.Uint32(head) >= 8
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// executorchProgram is what a program names, each name once.
type executorchProgram struct {
	operators []string // "namespace::name"
	delegates []string // backend ids
	truncated bool     // a vector held more than the bounds above
}

// scanExecuTorch reads the program's operators and delegates and checks its
// data segments against the file.
func (s *scanner) scanExecuTorch(ctx context.Context, in region) error {
	if in.ra == nil || in.size < 0 {
		s.c.skip(in.l, "ExecuTorch program inside a compressed member cannot be read in place; not scanned")
		return nil
	}
	r := fbReader{ra: in.ra, size: in.size}
	p, bad, err := readExecuTorch(ctx, r)
	if err != nil {
		return err
	}
	if bad != "" {
		// What was read before the damage still counts: the runtime may run
		// the plans that read.
		s.c.add(in.l, ruleStructInvalid, -1, map[string]any{"format": string(fmtExecuTorch)}, "ExecuTorch program", bad)
	}
	if p.truncated {
		s.c.skip(in.l, "only the first %d execution plans, %d operators, delegates and segments of each, and %d entries in all were checked",
			maxExecuTorchPlans, maxExecuTorchItems, maxExecuTorchEntries)
	}
	for _, op := range p.operators {
		ns, _, _ := strings.Cut(op, "::")
		if !executorchKernelNamespaces[ns] {
			s.c.add(in.l, ruleExecuTorchCustomOp, -1, map[string]any{"format": string(fmtExecuTorch), "op": quote(op, 100)}, quote(op, 100))
		}
	}
	for _, id := range p.delegates {
		ev := map[string]any{"format": string(fmtExecuTorch), "backend": quote(id, 100)}
		switch {
		case executorchNativeBackends[id]:
			s.c.add(in.l, ruleExecuTorchNativeDelegate, -1, ev, quote(id, 100))
		case !executorchBackends[id]:
			s.c.add(in.l, ruleExecuTorchCustomDelegate, -1, ev, quote(id, 100))
		}
	}
	return nil
}

// readExecuTorch reads a program; bad describes a structure that does not read.
func readExecuTorch(ctx context.Context, r fbReader) (p executorchProgram, bad string, err error) {
	segBase, bad := executorchHeader(r)
	if bad != "" {
		return p, bad, nil
	}
	root, err := r.deref(0)
	if err != nil {
		return p, "root table offset lies past the end", nil
	}
	plans, n, bad := executorchVector(r, root, 1, "execution_plan")
	if bad != "" {
		return p, bad, nil
	}
	p.truncated = n > maxExecuTorchPlans
	seen := map[string]bool{} // names repeat across plans, or are one table pointed at many times
	entries := 0
	for i := range min(n, maxExecuTorchPlans) {
		if err := ctx.Err(); err != nil {
			return p, "", err
		}
		plan, err := r.deref(plans + 4 + 4*int64(i))
		if err != nil {
			return p, fmt.Sprintf("execution plan %d lies past the end", i), nil
		}
		for _, f := range []struct {
			field int
			what  string
			out   *[]string
		}{{6, "operators", &p.operators}, {7, "delegates", &p.delegates}} {
			vec, n, bad := executorchVector(r, plan, f.field, fmt.Sprintf("execution plan %d's %s", i, f.what))
			if bad != "" {
				return p, bad, nil
			}
			p.truncated = p.truncated || n > maxExecuTorchItems
			for j := range min(n, maxExecuTorchItems) {
				if entries++; entries > maxExecuTorchEntries {
					p.truncated = true
					break
				}
				t, err := r.deref(vec + 4 + 4*int64(j))
				if err != nil {
					return p, fmt.Sprintf("execution plan %d's %s entry %d lies past the end", i, f.what, j), nil
				}
				name, err := executorchString(r, t, 0)
				if err != nil {
					return p, fmt.Sprintf("execution plan %d's %s entry %d has a name past the end", i, f.what, j), nil
				}
				if key := f.what + "\x00" + name; !seen[key] {
					seen[key] = true
					*f.out = append(*f.out, name)
				}
			}
		}
	}
	if segBase < 0 {
		return p, "", nil // no extended header: no segments to check
	}
	segs, n, bad := executorchVector(r, root, 4, "segments")
	if bad != "" {
		return p, bad, nil
	}
	p.truncated = p.truncated || n > maxExecuTorchItems
	for i := range min(n, maxExecuTorchItems) {
		t, err := r.deref(segs + 4 + 4*int64(i))
		if err != nil {
			return p, fmt.Sprintf("segment %d lies past the end", i), nil
		}
		off, err1 := executorchU64(r, t, 0)
		size, err2 := executorchU64(r, t, 1)
		if err1 != nil || err2 != nil {
			return p, fmt.Sprintf("segment %d is malformed", i), nil
		}
		if off > uint64(r.size-segBase) || size > uint64(r.size-segBase)-off {
			return p, fmt.Sprintf("segment %d (offset %d, %d bytes) lies past the end of the file", i, off, size), nil
		}
	}
	return p, "", nil
}

// executorchHeader reads the extended header, when there is one, and returns
// where the data segments start (-1: no header).
func executorchHeader(r fbReader) (int64, string) {
	var h [32]byte
	if r.size < 32 {
		return -1, ""
	}
	if _, err := r.ra.ReadAt(h[:], 0); err != nil || string(h[8:12]) != "eh00" {
		return -1, ""
	}
	length := binary.LittleEndian.Uint32(h[12:])
	progSize := binary.LittleEndian.Uint64(h[16:])
	segBase := binary.LittleEndian.Uint64(h[24:])
	switch {
	case length < 24:
		return -1, fmt.Sprintf("extended header declares %d bytes, fewer than its fields take", length)
	case progSize > uint64(r.size):
		return -1, fmt.Sprintf("extended header declares a program of %d bytes in a file of %d", progSize, r.size)
	case segBase > uint64(r.size) || (segBase != 0 && segBase < progSize):
		return -1, fmt.Sprintf("extended header puts the segments at %d, outside the file (%d bytes) or inside the program (%d bytes)", segBase, r.size, progSize)
	}
	return int64(segBase), ""
}

// executorchVector returns the vector of tables in field i of table t and its
// length (0 when the field is absent).
func executorchVector(r fbReader, t int64, i int, what string) (int64, uint32, string) {
	f, err := r.field(t, i)
	if err != nil {
		return 0, 0, what + " is malformed"
	}
	if f == 0 {
		return 0, 0, ""
	}
	vec, err := r.deref(f)
	if err != nil {
		return 0, 0, what + " lie past the end"
	}
	n, err := r.u32(vec)
	if err != nil || int64(n) > (r.size-vec-4)/4 {
		return 0, 0, what + " run past the end"
	}
	return vec, n, ""
}

// executorchString is string field i of table t ("" when absent).
func executorchString(r fbReader, t int64, i int) (string, error) {
	f, err := r.field(t, i)
	if err != nil || f == 0 {
		return "", err
	}
	return r.str(f, 256)
}

// executorchU64 is uint64 field i of table t (0 when absent).
func executorchU64(r fbReader, t int64, i int) (uint64, error) {
	f, err := r.field(t, i)
	if err != nil || f == 0 {
		return 0, err
	}
	lo, err := r.u32(f)
	if err != nil {
		return 0, err
	}
	hi, err := r.u32(f + 4)
	return uint64(hi)<<32 | uint64(lo), err
}
