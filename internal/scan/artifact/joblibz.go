package artifact

import "bytes"

// fmtJoblibZFile is joblib's own compressed file of versions before 0.10 (the
// "ZF" prefix, the uncompressed length in hex padded to 19 characters, an
// optional space, then a zlib stream). joblib.load still reads it today
// (numpy_pickle_compat.load_compatibility) and unpickles what it decompresses,
// so the stream is scanned like any other compressed file.
const fmtJoblibZFile format = "joblib zfile"

// joblibZHeader returns the length of a joblib zfile header at the start of
// head, or 0 when head is not one.
func joblibZHeader(head []byte) int {
	const prefix, maxLen = "ZF", 19 // len(hex(2**64)) in joblib's _MAX_LEN
	if len(head) < len(prefix)+maxLen+2 || !bytes.HasPrefix(head, []byte(prefix+"0x")) {
		return 0
	}
	field := head[len(prefix) : len(prefix)+maxLen]
	digits := bytes.TrimRight(field[2:], " ")
	if len(digits) == 0 {
		return 0
	}
	for _, c := range digits {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return 0
		}
	}
	n := len(prefix) + maxLen
	if head[n] == ' ' {
		n++ // joblib wrote the space in some versions; read_zfile skips it
	}
	if len(head) < n+2 || head[n] != 0x78 || (uint16(head[n])<<8|uint16(head[n+1]))%31 != 0 {
		return 0
	}
	return n
}

// joblibRawArray reports whether decompressed zfile content is the raw bytes of
// an array (the .npy.z files beside a joblib 0.9 pickle, which ZNDArrayWrapper
// hands to ndarray.__setstate__): no format of its own, and a first byte that
// is no pickle opcode, so joblib.load given the file itself fails at once
// instead of running anything.
func joblibRawArray(head []byte, sniff func([]byte, int64) format) bool {
	return len(head) > 0 && !validOpcode[head[0]] && sniff(head, -1) == fmtUnknown
}
