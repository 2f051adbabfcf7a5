// core/error.cpp: printable(), for messages that quote untrusted text (core/error.h).
#include "core/error.h"

namespace plat {

std::string printable(const std::string& s, size_t max_chars) {
    std::string out;
    for (unsigned char c : s) {
        if (out.size() >= max_chars) {
            out += "...";
            break;
        }
        if (c >= 0x20 && c < 0x7f)
            out += char(c);
        else
            out += fmt::format("\\x{:02x}", c);
    }
    return out;
}

}  // namespace plat
