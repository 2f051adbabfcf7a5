// core/safetensors.cpp: the safetensors reader, writer and atomic save (notes/08-data-safety.md).
// Layout: 8-byte little-endian header length N, N bytes of JSON header (padded with spaces),
// then the raw little-endian data of every tensor, back to back.
#include "core/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <set>

// The header is parsed by nlohmann-json, not by a hand-written parser: it comes from files users
// download, copy and cut short, and a widely used, heavily fuzzed parser (escapes, surrogates,
// UTF-8 validation, number overflow, nesting) is a smaller risk than new code. What the JSON
// *means* is then checked here, field by field (notes/08-data-safety.md, "Checks at the boundary").
#include <nlohmann/json.hpp>

#include "core/files.h"
#include "core/error.h"

// Tensor bytes are copied to and from memory as they are; the format is little-endian.
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "safetensors I/O assumes a little-endian machine");

namespace plat {

using json = nlohmann::json;

namespace {

// The reference reader refuses headers over 100 MB; a real header is a few KB to a few MB.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;
// The longest array a header holds is a shape; no real tensor has more than a handful of
// dimensions. The limit keeps a hostile header from growing one array without bound.
constexpr size_t kMaxArrayLength = 64;
// The most keys an object inside the header (a tensor entry, the metadata) may hold. An entry
// has 3; real metadata has a handful. Without a cap, 100 MB of tiny metadata keys would cost
// gigabytes of tree and map nodes.
constexpr size_t kMaxInnerKeys = 10000;
constexpr const char* kDamaged =
    "the file is damaged or is not a safetensors file; re-create it or restore a copy";

// Every other dtype name the safetensors format defines (reference: huggingface/safetensors,
// enum Dtype), so that the reader can say "plat does not read BF16" instead of "unknown".
const char* const kOtherDtypes[] = {"BOOL",    "U8",      "I8",  "F8_E5M2", "F8_E4M3", "F8_E8M0",
                                    "F4",      "F6_E2M3", "F6_E3M2", "I16", "U16",     "F16",
                                    "BF16",    "I32",     "U32", "U64",     "C64"};


std::string shape_str(const std::vector<int64_t>& shape) {
    std::string s = "[";
    for (size_t i = 0; i < shape.size(); i++) s += (i ? ", " : "") + std::to_string(shape[i]);
    return s + "]";
}

// Bytes needed by `shape` in `dtype`, or false when the product overflows int64. Zero sizes
// are set aside while multiplying so that every partial product of an accepted shape fits
// (Shape::numel may multiply in any order).
bool checked_byte_size(DType dtype, const std::vector<int64_t>& shape, uint64_t& bytes) {
    int64_t product = dtype_size(dtype);
    bool has_zero = false;
    for (int64_t d : shape) {
        if (d == 0) has_zero = true;
        else if (__builtin_mul_overflow(product, d, &product)) return false;
    }
    bytes = has_zero ? 0 : uint64_t(product);
    return true;
}

// Names and metadata go into a JSON header, which must be valid UTF-8. Checking when they are
// stored makes the error point at the put(), not at a later save.
void check_utf8(const char* op, const char* what, const std::string& s) {
    try {
        (void)json(s).dump();
    } catch (const json::exception&) {
        fail("{}: {} \"{}\" is not valid UTF-8; safetensors headers are JSON text, use UTF-8 names", op,
             what, printable(s));
    }
}

// A non-negative JSON integer ("-0" included, as the reference reader accepts it).
bool read_count(const json& j, uint64_t& out) {
    if (j.is_number_unsigned()) {
        out = j.get<uint64_t>();
        return true;
    }
    if (j.is_number_integer() && j.get<int64_t>() == 0) {
        out = 0;
        return true;
    }
    return false;
}

// ---- reading the header ----------------------------------------------------------------
// Every reading error: the file, what is wrong, what to do, on one line.
[[noreturn]] void bad_file(const std::string& file, const std::string& what, const char* todo = kDamaged) {
    fail("safetensors '{}': {}; {}", printable(file, 200), what, todo);
}

// One tensor as the header describes it, every field checked, before any data is touched.
struct EntryInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0, end = 0;  // data_offsets, relative to the start of the data section
};

// Receives nlohmann's parser events. Each value directly inside the header object (a tensor
// entry or "__metadata__") is checked the moment it is complete, kept as an EntryInfo (or as
// metadata), and dropped from the JSON tree, so the tree never holds more than one entry.
// The events also enforce the header's outline, so hostile input cannot grow memory without
// bound: containers nest at most 3 deep, arrays hold at most kMaxArrayLength values, an entry
// or the metadata at most kMaxInnerKeys keys, and no object repeats a key (JSON parsers keep
// the last of two equal keys without a word; two tensors with one name is an error here).
class HeaderReader {
public:
    HeaderReader(const std::string& file, uint64_t data_size) : file_(file), data_size_(data_size) {}

    std::vector<EntryInfo> entries;
    std::map<std::string, std::string> metadata;

    // nlohmann's callback. `depth` counts the containers open around the event: 0 for the
    // header object's own start and end; 1 for its keys and values, including the start and end
    // of an entry or the metadata; 2 inside those (their keys, a shape or data_offsets array);
    // 3 inside such an array.
    bool on_event(int depth, json::parse_event_t event, json& parsed) {
        using Event = json::parse_event_t;
        bool starts_value = event == Event::value || event == Event::object_start || event == Event::array_start;
        if (starts_value && !frames_.empty() && frames_.back().is_array &&
            ++frames_.back().length > kMaxArrayLength)
            bad(fmt::format("an array in the header has more than {} values (no shape is that long)",
                            kMaxArrayLength));
        switch (event) {
        case Event::object_start:
        case Event::array_start:
            if (depth == 0 && event == Event::array_start) bad("the header is not a JSON object");
            if (depth > 2)
                bad("the header nests objects or arrays more than 3 deep; a safetensors header holds "
                    "entries whose shape and data_offsets are flat arrays");
            frames_.push_back(Frame{event == Event::array_start, 0, {}});
            return true;
        case Event::key: {
            const std::string& key = parsed.get_ref<const std::string&>();
            if (!frames_.back().keys.insert(key).second)
                bad(fmt::format("the key \"{}\" appears twice in one object", printable(key)));
            if (depth == 2 && frames_.back().keys.size() > kMaxInnerKeys)
                bad(fmt::format("\"{}\" has more than {} keys", printable(key_), kMaxInnerKeys));
            if (depth == 1) key_ = key;
            return true;
        }
        case Event::value:
            if (depth == 0) bad(fmt::format("the header is not a JSON object but a {}", parsed.type_name()));
            if (depth == 1) {
                take(key_, parsed);
                return false;  // checked and kept; drop it from the tree
            }
            return true;
        case Event::object_end:
        case Event::array_end:
            frames_.pop_back();
            if (depth == 1) {
                take(key_, parsed);
                return false;
            }
            return true;
        }
        return true;
    }

    [[noreturn]] void bad(const std::string& what, const char* todo = kDamaged) const {
        bad_file(file_, what, todo);
    }

private:
    struct Frame {
        bool is_array;
        size_t length;               // values so far, for arrays
        std::set<std::string> keys;  // keys so far, for objects
    };

    // One complete value found directly in the header object under `key`.
    void take(const std::string& key, const json& value) {
        if (key == "__metadata__") {
            if (!value.is_object())
                bad(fmt::format("\"__metadata__\" must be an object of strings, got a {}", value.type_name()));
            for (auto it = value.begin(); it != value.end(); ++it) {
                if (!it.value().is_string())
                    bad(fmt::format("metadata value \"{}\" must be a string, got {}", printable(it.key()),
                                    printable(it.value().dump(), 40)));
                metadata[it.key()] = it.value().get<std::string>();
            }
            return;
        }
        entries.push_back(read_entry(key, value));
    }

    EntryInfo read_entry(const std::string& name, const json& value) const {
        const std::string tensor = fmt::format("tensor \"{}\"", printable(name));
        if (!value.is_object())
            bad(fmt::format("{} is not an object {{\"dtype\", \"shape\", \"data_offsets\"}} but a {}", tensor,
                            value.type_name()));
        for (const char* field : {"dtype", "shape", "data_offsets"})
            if (!value.contains(field)) bad(fmt::format("{} is missing \"{}\"", tensor, field));
        EntryInfo info;
        info.name = name;

        // dtype: one of ours; a known safetensors dtype we do not read gets its own advice.
        const json& dtype = value.at("dtype");
        if (!dtype.is_string())
            bad(fmt::format("{}: \"dtype\" must be a string such as \"F32\", got {}", tensor,
                            printable(dtype.dump(), 40)));
        const std::string& d = dtype.get_ref<const std::string&>();
        if (d == "F32") info.dtype = DType::F32;
        else if (d == "F64") info.dtype = DType::F64;
        else if (d == "I64") info.dtype = DType::I64;
        else if (std::find(std::begin(kOtherDtypes), std::end(kOtherDtypes), d) != std::end(kOtherDtypes))
            bad(fmt::format("{} has unsupported dtype {}; plat reads F32, F64 and I64", tensor, d),
                "convert the tensor before saving (in PyTorch: tensor.float() or tensor.long())");
        else
            bad(fmt::format("{} has unknown dtype \"{}\"", tensor, printable(d)));

        // shape: sizes that fit int64, with a product that does too.
        const json& shape = value.at("shape");
        if (!shape.is_array())
            bad(fmt::format("{}: \"shape\" must be an array of sizes, got {}", tensor, printable(shape.dump(), 40)));
        for (const json& size : shape) {
            uint64_t n = 0;
            if (!read_count(size, n))
                bad(fmt::format("{}: \"shape\" entries must be non-negative integers, got {}", tensor,
                                printable(size.dump(), 40)));
            if (n > uint64_t(std::numeric_limits<int64_t>::max()))
                bad(fmt::format("{}: shape size {} is too large", tensor, n));
            info.shape.push_back(int64_t(n));
        }
        uint64_t needed = 0;
        if (!checked_byte_size(info.dtype, info.shape, needed))
            bad(fmt::format("{}: shape {} has too many elements for any file", tensor, shape_str(info.shape)));

        // data_offsets: [begin, end] inside the data section, holding exactly the bytes needed.
        const json& offsets = value.at("data_offsets");
        if (!offsets.is_array() || offsets.size() != 2 || !read_count(offsets[0], info.begin) ||
            !read_count(offsets[1], info.end))
            bad(fmt::format("{}: \"data_offsets\" must be two non-negative integers [begin, end], got {}", tensor,
                            printable(offsets.dump(), 40)));
        if (info.begin > info.end)
            bad(fmt::format("{}: data_offsets [{}, {}] begin after they end", tensor, info.begin, info.end));
        if (info.end > data_size_)
            bad(fmt::format("{}: data_offsets [{}, {}] run past the end of the data ({} bytes after the header)",
                            tensor, info.begin, info.end, data_size_));
        if (info.end - info.begin != needed)
            bad(fmt::format("{}: shape {} of {} needs {} bytes, but data_offsets [{}, {}] hold {}", tensor,
                            shape_str(info.shape), d, needed, info.begin, info.end, info.end - info.begin));
        return info;
    }

    const std::string& file_;
    uint64_t data_size_;
    std::vector<Frame> frames_;  // the objects and arrays open at this point of the parse
    std::string key_;            // the last key read directly in the header object
};

// ---- writing ----------------------------------------------------------------------------
// The header text (padded) and the order of the data, shared by serialize and save.
struct Layout {
    std::string header;
    std::vector<const TensorEntry*> order;
};

Layout plan_layout(const TensorFile& file) {
    Layout layout;
    for (const TensorEntry& e : file.entries()) layout.order.push_back(&e);
    // As the reference writer does: larger dtypes first (I64, F64, then F32; DType keeps the
    // reference's order), then by name. The data section starts at a multiple of 8, so each
    // tensor then starts at a multiple of its element size and can be used in place.
    std::sort(layout.order.begin(), layout.order.end(), [](const TensorEntry* a, const TensorEntry* b) {
        if (a->dtype != b->dtype) return int(a->dtype) > int(b->dtype);
        return a->name < b->name;
    });
    // ordered_json keeps keys in insertion order: "__metadata__" first, then entries in data
    // order, each as {"dtype", "shape", "data_offsets"}, like the reference writer.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!file.metadata().empty()) header["__metadata__"] = file.metadata();
    uint64_t offset = 0;
    for (const TensorEntry* e : layout.order) {
        nlohmann::ordered_json entry = nlohmann::ordered_json::object();
        entry["dtype"] = dtype_name(e->dtype);
        entry["shape"] = nlohmann::ordered_json::array();
        for (int64_t d : e->shape) entry["shape"].push_back(d);
        entry["data_offsets"] = {offset, offset + e->bytes.size()};
        header[e->name] = std::move(entry);
        offset += e->bytes.size();
    }
    layout.header = header.dump();
    // Spaces are JSON whitespace: padding to a multiple of 8 aligns the data section.
    layout.header.append((8 - layout.header.size() % 8) % 8, ' ');
    return layout;
}

void put_le64(uint64_t n, uint8_t out[8]) {
    for (int i = 0; i < 8; i++) out[i] = uint8_t(n >> (8 * i));
}


std::vector<uint8_t> read_whole_file(const std::string& path) {
    const std::string shown = printable(path, 200);
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("safetensors '{}': cannot open it: {}; check the path", shown, std::strerror(errno));
    struct FdCloser {
        int fd;
        ~FdCloser() { ::close(fd); }
    } closer{fd};
    struct stat st;
    if (::fstat(fd, &st) != 0) fail("safetensors '{}': cannot stat it: {}; check the path", shown, std::strerror(errno));
    if (!S_ISREG(st.st_mode))
        fail("safetensors '{}': is not a regular file (a directory or a device?); give the path of a "
             ".safetensors file",
             shown);
    std::vector<uint8_t> bytes;
    try {
        bytes.resize(size_t(st.st_size));
    } catch (const std::bad_alloc&) {
        fail("safetensors '{}': the file is {} bytes, more than this machine can hold in memory; load it on a "
             "larger machine or check it is the file you meant",
             shown, (long long)st.st_size);
    }
    size_t done = 0;
    while (done < bytes.size()) {
        ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) fail("safetensors '{}': reading failed: {}; check the disk", shown, std::strerror(errno));
        if (n == 0) fail("safetensors '{}': the file got shorter while being read; is another program writing it?", shown);
        done += size_t(n);
    }
    return bytes;
}

}  // namespace

// ---- dtypes and TensorFile ------------------------------------------------------------------

const char* dtype_name(DType dtype) {
    switch (dtype) {
    case DType::F32: return "F32";
    case DType::F64: return "F64";
    case DType::I64: return "I64";
    }
    return "?";
}

int64_t dtype_size(DType dtype) { return dtype == DType::F32 ? 4 : 8; }

int64_t TensorEntry::numel() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

void TensorFile::put_entry(TensorEntry entry) {
    const std::string shown = printable(entry.name);
    if (entry.name == "__metadata__")
        fail("TensorFile::put: \"__metadata__\" is the header's metadata key, not a tensor name; choose another name");
    if (has(entry.name))
        fail("TensorFile::put: a tensor named \"{}\" is already in the file; tensor names must be unique", shown);
    check_utf8("TensorFile::put", "tensor name", entry.name);
    for (int64_t d : entry.shape)
        if (d < 0) fail("TensorFile::put: tensor \"{}\" has shape {}; sizes must be >= 0", shown, shape_str(entry.shape));
    uint64_t needed = 0;
    if (!checked_byte_size(entry.dtype, entry.shape, needed))
        fail("TensorFile::put: tensor \"{}\" has shape {}, too many elements", shown, shape_str(entry.shape));
    if (needed != entry.bytes.size())
        fail("TensorFile::put: tensor \"{}\" of shape {} and dtype {} needs {} bytes, got {}", shown,
             shape_str(entry.shape), dtype_name(entry.dtype), needed, entry.bytes.size());
    index_[entry.name] = entries_.size();
    entries_.push_back(std::move(entry));
}

void TensorFile::put(const std::string& name, const Tensor& t) {
    if (t.empty()) fail("TensorFile::put: tensor \"{}\" has no storage (a default Tensor); store one with values", printable(name));
    TensorEntry e;
    e.name = name;
    e.dtype = DType::F32;
    for (int i = 0; i < t.ndim(); i++) e.shape.push_back(t.size(i));
    e.bytes.resize(size_t(t.numel()) * 4);
    for (int64_t i = 0; i < t.numel(); i++) {
        float v = float(t[i]);  // real -> F32: exact in the float build, rounded from double
        std::memcpy(e.bytes.data() + 4 * i, &v, 4);
    }
    put_entry(std::move(e));
}

void TensorFile::put_int64(const std::string& name, const std::vector<int64_t>& shape,
                           const std::vector<int64_t>& values) {
    uint64_t needed = 0;
    for (int64_t d : shape)
        if (d < 0) fail("TensorFile::put_int64: tensor \"{}\" has shape {}; sizes must be >= 0", printable(name), shape_str(shape));
    if (!checked_byte_size(DType::I64, shape, needed) || needed / 8 != values.size())
        fail("TensorFile::put_int64: tensor \"{}\" of shape {} needs {} values, got {}", printable(name),
             shape_str(shape), needed / 8, values.size());
    TensorEntry e;
    e.name = name;
    e.dtype = DType::I64;
    e.shape = shape;
    e.bytes.resize(values.size() * 8);
    if (!values.empty()) std::memcpy(e.bytes.data(), values.data(), e.bytes.size());
    put_entry(std::move(e));
}

const TensorEntry& TensorFile::entry(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) {
        std::string some;
        for (size_t i = 0; i < entries_.size() && i < 8; i++) some += (i ? ", " : "") + printable(entries_[i].name);
        if (entries_.size() > 8) some += ", ...";
        fail("TensorFile: no tensor named \"{}\"; the file has {} tensors: {}", printable(name), entries_.size(), some);
    }
    return entries_[it->second];
}

Tensor TensorFile::get(const std::string& name) const {
    const TensorEntry& e = entry(name);
    if (e.dtype != DType::F32 && e.dtype != DType::F64)
        fail("TensorFile::get: tensor \"{}\" has dtype {}; get() reads F32 and F64 tensors, use get_int64()",
             printable(name), dtype_name(e.dtype));
    if (e.shape.size() > size_t(Shape::kMaxDims))
        fail("TensorFile::get: tensor \"{}\" has shape {} ({} dimensions); plat tensors have at most {}",
             printable(name), shape_str(e.shape), e.shape.size(), Shape::kMaxDims);
    Shape shape;
    for (int64_t d : e.shape) shape.push_back(d);
    Tensor t(shape);
    const uint8_t* p = e.bytes.data();
    for (int64_t i = 0; i < t.numel(); i++) {
        if (e.dtype == DType::F32) {
            float v;
            std::memcpy(&v, p + 4 * i, 4);
            t[i] = real(v);
        } else {
            double v;
            std::memcpy(&v, p + 8 * i, 8);
            t[i] = real(v);  // F64 -> float rounds (and overflows to inf beyond 3.4e38)
        }
    }
    return t;
}

std::vector<int64_t> TensorFile::get_int64(const std::string& name) const {
    const TensorEntry& e = entry(name);
    if (e.dtype != DType::I64)
        fail("TensorFile::get_int64: tensor \"{}\" has dtype {}; get_int64() reads I64 tensors, use get()",
             printable(name), dtype_name(e.dtype));
    std::vector<int64_t> values(e.bytes.size() / 8);
    if (!values.empty()) std::memcpy(values.data(), e.bytes.data(), e.bytes.size());
    return values;
}

std::vector<std::string> TensorFile::names() const {
    std::vector<std::string> out;
    for (const TensorEntry& e : entries_) out.push_back(e.name);
    return out;
}

void TensorFile::set_metadata(const std::string& key, const std::string& value) {
    check_utf8("TensorFile::set_metadata", "key", key);
    check_utf8("TensorFile::set_metadata", "value", value);
    metadata_[key] = value;
}

const std::string& TensorFile::metadata(const std::string& key) const {
    auto it = metadata_.find(key);
    if (it == metadata_.end()) {
        std::string keys;
        for (const auto& kv : metadata_) keys += (keys.empty() ? "" : ", ") + printable(kv.first);
        fail("TensorFile::metadata: no metadata key \"{}\"; the file has: {}", printable(key),
             keys.empty() ? "no metadata" : keys);
    }
    return it->second;
}

// ---- serialize, parse, save, load --------------------------------------------------------------

std::vector<uint8_t> serialize_safetensors(const TensorFile& file) {
    const Layout layout = plan_layout(file);
    size_t total = 8 + layout.header.size();
    for (const TensorEntry* e : layout.order) total += e->bytes.size();
    std::vector<uint8_t> out(8);
    out.reserve(total);
    put_le64(layout.header.size(), out.data());
    out.insert(out.end(), layout.header.begin(), layout.header.end());
    for (const TensorEntry* e : layout.order) out.insert(out.end(), e->bytes.begin(), e->bytes.end());
    return out;
}

TensorFile parse_safetensors(const uint8_t* data, size_t size, const std::string& name_for_messages) {
    const std::string& name = name_for_messages;
    // 1. the 8-byte header length, checked against the limit and the real size before use.
    if (size == 0) bad_file(name, "the file is empty (0 bytes)");
    if (size < 8)
        bad_file(name, fmt::format("the file is {} bytes long, shorter than the 8-byte header length", size));
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = (n << 8) | data[i];
    if (n > kMaxHeaderBytes)
        bad_file(name, fmt::format("header length {} bytes is over the 100 MB limit", n));
    if (n > size - 8)
        bad_file(name, fmt::format("header length {} bytes runs past the end of the file ({} bytes)", n, size));

    // 2. the JSON header, each entry checked as it completes (HeaderReader).
    const uint64_t data_size = size - 8 - n;
    HeaderReader header(name, data_size);
    const char* text = reinterpret_cast<const char*>(data + 8);
    // nlohmann's lexer takes a NUL byte for the end of input (for C strings), so "{}\0anything"
    // would pass; JSON text never holds a raw NUL, so refuse it here.
    if (const void* nul = std::memchr(text, 0, n))
        header.bad(fmt::format("the header is not valid JSON (a NUL byte at header offset {})",
                               static_cast<const char*>(nul) - text));
    try {
        // The tree parse returns is empty: HeaderReader keeps what it checked and drops the rest.
        json rest = json::parse(text, text + n, [&header](int depth, json::parse_event_t event, json& parsed) {
            return header.on_event(depth, event, parsed);
        });
        (void)rest;
    } catch (const json::exception& e) {
        std::string why = e.what();  // "[json.exception.parse_error.101] parse error at ..."
        size_t bracket = why.find("] ");
        if (bracket != std::string::npos) why = why.substr(bracket + 2);
        header.bad("the header is not valid JSON (" + printable(why, 160) + ")");
    }

    // 3. the data section must be tiled exactly, as the reference reader requires: sorted by
    // offset, each tensor begins where the previous one ended and the last ends at the end of
    // the file. This rules out tensors sharing bytes and bytes that belong to no tensor.
    std::vector<EntryInfo>& entries = header.entries;
    std::sort(entries.begin(), entries.end(), [](const EntryInfo& a, const EntryInfo& b) {
        if (a.begin != b.begin) return a.begin < b.begin;
        if (a.end != b.end) return a.end < b.end;
        return a.name < b.name;
    });
    uint64_t position = 0;
    for (size_t i = 0; i < entries.size(); i++) {
        const EntryInfo& e = entries[i];
        if (e.begin < position)
            header.bad(fmt::format("tensors \"{}\" [{}, {}] and \"{}\" [{}, {}] overlap in the data",
                                   printable(entries[i - 1].name), entries[i - 1].begin, entries[i - 1].end,
                                   printable(e.name), e.begin, e.end));
        if (e.begin > position)
            header.bad(fmt::format("data bytes [{}, {}) before tensor \"{}\" belong to no tensor (a gap)", position,
                                   e.begin, printable(e.name)));
        position = e.end;
    }
    if (position != data_size)
        header.bad(fmt::format("the data section has {} bytes after the last tensor", data_size - position));

    // 4. only now copy the data out: every size has been checked against the real buffer.
    TensorFile file;
    const uint8_t* data_start = data + 8 + n;
    for (EntryInfo& info : entries) {
        TensorEntry e;
        e.name = std::move(info.name);
        e.dtype = info.dtype;
        e.shape = std::move(info.shape);
        e.bytes.assign(data_start + info.begin, data_start + info.end);
        file.put_entry(std::move(e));
    }
    for (const auto& kv : header.metadata) file.set_metadata(kv.first, kv.second);
    return file;
}

void save_safetensors(const std::string& path, const TensorFile& file) {
    const Layout layout = plan_layout(file);  // everything that can be checked, before touching the disk
    AtomicFile out(path, "save_safetensors");
    uint8_t length[8];
    put_le64(layout.header.size(), length);
    out.write(length, 8);
    out.write(layout.header.data(), layout.header.size());
    for (const TensorEntry* e : layout.order) out.write(e->bytes.data(), e->bytes.size());
    out.commit();
}

TensorFile load_safetensors(const std::string& path) {
    std::vector<uint8_t> bytes = read_whole_file(path);
    return parse_safetensors(bytes.data(), bytes.size(), path);
}

}  // namespace plat
