package artifact

// looksTarV7 recognises a tar header without the ustar magic (the V7 format,
// which Python's tarfile and so torch.load's legacy path accept): a non-empty
// name, octal size and a checksum field that matches the header's byte sum,
// computed as tarfile does (checksum field as spaces, unsigned or signed bytes).
func looksTarV7(head []byte) bool {
	if len(head) < 512 || head[0] == 0 {
		return false
	}
	h := head[:512]
	want, ok := tarOctal(h[148:156])
	if !ok {
		return false
	}
	if _, ok := tarOctal(h[124:136]); !ok {
		return false
	}
	var unsigned, signed int64
	for i, c := range h {
		if i >= 148 && i < 156 {
			c = ' '
		}
		unsigned += int64(c)
		signed += int64(int8(c))
	}
	return want == unsigned || want == signed
}

// tarOctal parses a tar numeric field as tarfile's nti does for octal: optional
// leading spaces, octal digits, then NULs or spaces. An empty field is not a number.
func tarOctal(b []byte) (int64, bool) {
	i := 0
	for i < len(b) && b[i] == ' ' {
		i++
	}
	var v int64
	digits := 0
	for ; i < len(b) && b[i] >= '0' && b[i] <= '7'; i++ {
		v = v*8 + int64(b[i]-'0')
		digits++
	}
	for ; i < len(b); i++ {
		if b[i] != 0 && b[i] != ' ' {
			return 0, false
		}
	}
	return v, digits > 0
}
