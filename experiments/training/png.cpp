// experiments/training/png.cpp: write_png and heatmap_rgb (experiments/training/png.h).
#include "experiments/training/png.h"

#include <algorithm>

#include "core/files.h"
#include "core/error.h"

namespace plat {

uint32_t crc32(const uint8_t* data, size_t size, uint32_t crc) {
    // The reflected CRC-32 of PNG and zlib (polynomial 0xEDB88320), bit by bit: slow, but only
    // a few kilobytes of pictures go through it.
    crc = ~crc;
    for (size_t i = 0; i < size; i++) {
        crc ^= data[i];
        for (int k = 0; k < 8; k++) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

uint32_t adler32(const uint8_t* data, size_t size) {
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < size; i++) {
        a = (a + data[i]) % 65521;
        b = (b + a) % 65521;
    }
    return (b << 16) | a;
}

namespace {

void put_be32(std::vector<uint8_t>& out, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(uint8_t(v >> s));
}

void put_chunk(std::vector<uint8_t>& out, const char type[4], const std::vector<uint8_t>& data) {
    put_be32(out, uint32_t(data.size()));
    size_t start = out.size();  // the CRC covers the type and the data
    out.insert(out.end(), type, type + 4);
    out.insert(out.end(), data.begin(), data.end());
    put_be32(out, crc32(out.data() + start, out.size() - start));
}

}  // namespace

std::vector<uint8_t> encode_png(int64_t width, int64_t height, const std::vector<uint8_t>& rgb) {
    if (width <= 0 || height <= 0 || width > 65535 || height > 65535)
        fail("write_png: image size {}x{} must be between 1x1 and 65535x65535", width, height);
    if (int64_t(rgb.size()) != width * height * 3)
        fail("write_png: {}x{} RGB needs {} bytes, got {}", width, height, width * height * 3, rgb.size());
    // Raw scanlines: filter byte 0 ("none") then the row's bytes.
    std::vector<uint8_t> raw;
    raw.reserve(size_t(height * (1 + 3 * width)));
    for (int64_t y = 0; y < height; y++) {
        raw.push_back(0);
        raw.insert(raw.end(), rgb.begin() + y * 3 * width, rgb.begin() + (y + 1) * 3 * width);
    }
    // zlib stream: header 0x78 0x01, deflate "stored" blocks of at most 65535 bytes (a byte
    // BFINAL|BTYPE=00, then LEN and ~LEN little-endian), then the Adler-32 of the raw bytes.
    std::vector<uint8_t> z = {0x78, 0x01};
    for (size_t pos = 0; pos < raw.size() || pos == 0;) {
        size_t len = std::min<size_t>(65535, raw.size() - pos);
        bool last = pos + len == raw.size();
        z.push_back(last ? 1 : 0);
        z.push_back(uint8_t(len));
        z.push_back(uint8_t(len >> 8));
        z.push_back(uint8_t(~len));
        z.push_back(uint8_t(~len >> 8));
        z.insert(z.end(), raw.begin() + pos, raw.begin() + pos + len);
        pos += len;
        if (last) break;
    }
    put_be32(z, adler32(raw.data(), raw.size()));

    std::vector<uint8_t> png = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    std::vector<uint8_t> ihdr;
    put_be32(ihdr, uint32_t(width));
    put_be32(ihdr, uint32_t(height));
    ihdr.insert(ihdr.end(), {8, 2, 0, 0, 0});  // bit depth 8, colour type 2 (RGB), deflate, no filter, no interlace
    put_chunk(png, "IHDR", ihdr);
    put_chunk(png, "IDAT", z);
    put_chunk(png, "IEND", {});
    return png;
}

void write_png(const std::string& path, int64_t width, int64_t height, const std::vector<uint8_t>& rgb) {
    std::vector<uint8_t> bytes = encode_png(width, height, rgb);
    write_file_atomic(path, bytes.data(), bytes.size(), "write_png");
}

std::vector<uint8_t> heatmap_rgb(const Tensor& m, real vmax, int64_t cell) {
    if (m.ndim() != 2) fail("heatmap: needs a matrix, got shape {}", m.shape().str());
    if (!(vmax > 0)) fail("heatmap: vmax must be > 0, got {}", vmax);
    int64_t R = m.size(0), C = m.size(1), W = C * cell;
    std::vector<uint8_t> rgb(size_t(R * cell * W * 3));
    for (int64_t r = 0; r < R; r++)
        for (int64_t c = 0; c < C; c++) {
            // t in [0, 1]; white -> orange -> dark red, a ramp that prints well and shows small weights.
            double t = std::clamp(double(m[r * C + c]) / vmax, 0.0, 1.0);
            uint8_t red = uint8_t(255 - 115 * std::max(0.0, 2 * t - 1));
            uint8_t green = uint8_t(255 * (1 - t));
            uint8_t blue = uint8_t(255 * std::max(0.0, 1 - 2 * t));
            for (int64_t dy = 0; dy < cell; dy++)
                for (int64_t dx = 0; dx < cell; dx++) {
                    size_t at = size_t(((r * cell + dy) * W + c * cell + dx) * 3);
                    rgb[at] = red, rgb[at + 1] = green, rgb[at + 2] = blue;
                }
        }
    return rgb;
}

}  // namespace plat
