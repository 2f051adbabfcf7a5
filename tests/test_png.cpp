// tests/test_png.cpp: the PNG writer behind `plat attention` (experiments/training/png.cpp). The
// checksums are compared with their published check values; the image is decoded back by
// walking the chunks and the stored deflate blocks, independently of the encoder's code.
#include <doctest/doctest.h>

#include <cstring>

#include "core/error.h"
#include "experiments/training/png.h"

using namespace plat;

namespace {
uint32_t be32(const uint8_t* p) { return uint32_t(p[0]) << 24 | uint32_t(p[1]) << 16 | uint32_t(p[2]) << 8 | p[3]; }
}  // namespace

TEST_CASE("png: CRC-32 and Adler-32 give their published check values") {
    const char* digits = "123456789";  // the standard check input of CRC catalogues
    CHECK(crc32(reinterpret_cast<const uint8_t*>(digits), 9) == 0xCBF43926u);
    const char* wiki = "Wikipedia";  // the worked example of Adler-32's definition
    CHECK(adler32(reinterpret_cast<const uint8_t*>(wiki), 9) == 0x11E60398u);
}

TEST_CASE("png: the encoded file decodes back to the same pixels") {
    // 300 x 80 RGB: 72,080 bytes of scanlines, so the data needs two stored blocks.
    const int64_t W = 300, H = 80;
    std::vector<uint8_t> rgb(size_t(W * H * 3));
    for (size_t i = 0; i < rgb.size(); i++) rgb[i] = uint8_t(i * 7 + i / 300);
    std::vector<uint8_t> png = encode_png(W, H, rgb);

    const uint8_t signature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    REQUIRE(std::memcmp(png.data(), signature, 8) == 0);
    std::vector<uint8_t> idat;
    size_t pos = 8;
    std::vector<std::string> types;
    while (pos < png.size()) {
        uint32_t len = be32(&png[pos]);
        std::string type(png.begin() + pos + 4, png.begin() + pos + 8);
        types.push_back(type);
        // Every chunk's CRC covers its type and data.
        CHECK(crc32(&png[pos + 4], len + 4) == be32(&png[pos + 8 + len]));
        if (type == "IHDR") {
            CHECK(be32(&png[pos + 8]) == W);
            CHECK(be32(&png[pos + 12]) == H);
            CHECK(png[pos + 16] == 8);  // bit depth
            CHECK(png[pos + 17] == 2);  // RGB
        }
        if (type == "IDAT") idat.insert(idat.end(), png.begin() + pos + 8, png.begin() + pos + 8 + len);
        pos += 12 + len;
    }
    CHECK(types == std::vector<std::string>{"IHDR", "IDAT", "IEND"});

    // zlib: 2 header bytes, stored blocks (header byte, LEN, ~LEN, data), Adler-32 at the end.
    REQUIRE(idat.size() > 6);
    CHECK((idat[0] * 256 + idat[1]) % 31 == 0);  // the zlib header check
    std::vector<uint8_t> raw;
    size_t at = 2;
    bool final_block = false;
    int blocks = 0;
    while (!final_block) {
        final_block = idat[at] & 1;
        CHECK((idat[at] >> 1) == 0);  // BTYPE 00: stored
        uint16_t len = uint16_t(idat[at + 1] | idat[at + 2] << 8), nlen = uint16_t(idat[at + 3] | idat[at + 4] << 8);
        CHECK(uint16_t(~len) == nlen);
        raw.insert(raw.end(), idat.begin() + at + 5, idat.begin() + at + 5 + len);
        at += 5 + len;
        blocks++;
    }
    CHECK(blocks == 2);
    CHECK(be32(&idat[at]) == adler32(raw.data(), raw.size()));
    // Scanlines: filter byte 0, then the row.
    REQUIRE(raw.size() == size_t(H * (1 + 3 * W)));
    for (int64_t y = 0; y < H; y++) {
        CHECK(raw[y * (1 + 3 * W)] == 0);
        REQUIRE(std::memcmp(&raw[y * (1 + 3 * W) + 1], &rgb[y * 3 * W], 3 * W) == 0);
    }
}

TEST_CASE("png: heat map colours and errors") {
    Tensor m = Tensor::from_data(Shape{1, 2}, {0, 1});
    std::vector<uint8_t> rgb = heatmap_rgb(m, 1, 2);  // 2 x 4 pixels
    REQUIRE(rgb.size() == 2 * 4 * 3);
    CHECK((rgb[0] == 255 && rgb[1] == 255 && rgb[2] == 255));  // 0 -> white
    CHECK((rgb[6] == 140 && rgb[7] == 0 && rgb[8] == 0));      // vmax -> dark red
    CHECK_THROWS_AS(encode_png(3, 3, std::vector<uint8_t>(10)), Error);
    CHECK_THROWS_AS(encode_png(0, 3, {}), Error);
    CHECK_THROWS_AS(heatmap_rgb(Tensor(Shape{2, 2, 2}), 1, 1), Error);
}
