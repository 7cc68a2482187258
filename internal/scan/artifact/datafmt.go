package artifact

import "bytes"

// Files that model repositories ship beside their weights and that hold data
// only: README images, audio samples, MATLAB and IDL arrays (SciPy's test
// data), NetCDF, Parquet, Arrow and Stata tables. No loader of them runs code
// from the file, so they are recognised (format "data: …") rather than listed
// as not scanned, which made `mirror scan` exit 2 on a folder holding a PNG.
// They are only tried for bytes that no other check took: a file that also
// parses as a pickle is still scanned as one, and a zip appended to any of
// them is still scanned (the polyglot check in scanRegion).
var dataMagics = []struct {
	name  string
	off   int
	magic string
}{
	{"png", 0, "\x89PNG\r\n\x1a\n"},
	{"jpeg", 0, "\xff\xd8\xff"},
	{"gif", 0, "GIF87a"}, {"gif", 0, "GIF89a"},
	{"tiff", 0, "II*\x00"}, {"tiff", 0, "MM\x00*"},
	{"flac", 0, "fLaC"}, {"ogg", 0, "OggS"}, {"wav", 0, "RF64"},
	{"matlab", 0, "MATLAB 5.0 MAT-file"},
	{"idl save", 0, "SR\x00\x04"},
	{"netcdf", 0, "CDF\x01"}, {"netcdf", 0, "CDF\x02"}, {"netcdf", 0, "CDF\x05"},
	{"parquet", 0, "PAR1"},
	{"arrow", 0, "ARROW1\x00\x00"},
	{"stata", 0, "<stata_dta>"},
	{"pdf", 0, "%PDF-"}, {"mp3", 0, "ID3"}, {"avif", 4, "ftypavif"},
	{"mp4", 4, "ftypM4A "}, {"mp4", 4, "ftypisom"}, {"mp4", 4, "ftypmp42"},
}

// dataFormat names the data-only format head starts with, or returns "".
func dataFormat(head []byte) format {
	for _, d := range dataMagics {
		if len(head) >= d.off+len(d.magic) && string(head[d.off:d.off+len(d.magic)]) == d.magic {
			return format("data: " + d.name)
		}
	}
	if len(head) >= 12 && bytes.HasPrefix(head, []byte("RIFF")) {
		switch string(head[8:12]) {
		case "WAVE":
			return "data: wav"
		case "WEBP":
			return "data: webp"
		}
	}
	return ""
}
