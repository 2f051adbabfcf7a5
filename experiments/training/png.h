// experiments/training/png.h: a minimal PNG writer (8-bit RGB, no compression), so attention maps and
// other pictures need no image library. The format in brief: an 8-byte signature, then chunks
// (length, type, data, CRC-32): IHDR (size, bit depth, colour type), IDAT (the pixel rows, each
// prefixed by a filter byte, wrapped in a zlib stream of "stored" deflate blocks) and IEND.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace plat {

// rgb holds height rows of width pixels, 3 bytes each, top row first. Written atomically.
void write_png(const std::string& path, int64_t width, int64_t height, const std::vector<uint8_t>& rgb);
// The bytes write_png writes (for tests).
std::vector<uint8_t> encode_png(int64_t width, int64_t height, const std::vector<uint8_t>& rgb);

// A heat map of the matrix m [R, C] with values in [0, vmax]: each entry becomes a cell x cell
// square, coloured from white (0) through orange to dark red (vmax), top row first.
std::vector<uint8_t> heatmap_rgb(const Tensor& m, real vmax, int64_t cell);

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc = 0);  // PNG's CRC-32
uint32_t adler32(const uint8_t* data, size_t size);                  // zlib's checksum

}  // namespace plat
