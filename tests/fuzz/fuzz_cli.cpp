// tests/fuzz/fuzz_cli.cpp: libFuzzer target for the `plat` command line (experiments/cli/cli.h), in
// parse-only mode: every option of every command is parsed and checked as for a real run, and
// no command runs (notes/08-data-safety.md, "Fuzzing the command line"). The input is the
// argument list, one argument per line, after "plat". Findings: a crash or sanitizer report,
// an exception escaping run_cli, an exit code other than 0 (accepted, or --help) or 2 (usage
// error), and an error that is not exactly one line "plat: usage error: ...\n" of printable text.
#include <fcntl.h>
#include <sanitizer/common_interface_defs.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "experiments/cli/cli.h"
#include "tests/fuzz/fuzz_common.h"

using plat_fuzz::fuzz_check;

namespace {

int capture_fd = -1;  // a memory file that receives stderr while run_cli runs

// Everything run_cli wrote on stderr during one input.
std::string captured() {
    std::string text;
    off_t size = lseek(capture_fd, 0, SEEK_CUR);
    text.resize(size_t(size));
    if (size > 0 && pread(capture_fd, &text[0], size_t(size), 0) != size) text = "(could not read the capture)";
    return text;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
    // Sanitizer reports go to the real stderr even while stderr is captured. (libFuzzer's own
    // -close_fd_mask sets this too; this is for running one input by hand.)
    static int report_fd = dup(2);
    __sanitizer_set_report_fd(reinterpret_cast<void*>(static_cast<intptr_t>(report_fd)));
    // --help and --help-all print pages on stdout: into /dev/null (libFuzzer writes to stderr).
    int null_fd = open("/dev/null", O_WRONLY);
    if (null_fd >= 0) dup2(null_fd, 1), close(null_fd);
    capture_fd = memfd_create("fuzz_cli_stderr", 0);
    fuzz_check(capture_fd >= 0, "memfd_create for the stderr capture");
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::vector<std::string> args = {"plat"};
    std::string word;
    for (size_t i = 0; i < size; i++) {
        if (data[i] == '\n') {
            args.push_back(word);
            word.clear();
        } else {
            word += char(data[i]);
        }
    }
    if (size > 0) args.push_back(word);  // the text after the last newline (maybe "")

    std::fflush(stderr);
    ftruncate(capture_fd, 0);
    lseek(capture_fd, 0, SEEK_SET);
    const int saved = dup(2);
    dup2(capture_fd, 2);
    const int code = plat::run_cli(args, plat::CliMode::parse_only);  // an escaping exception aborts: a finding
    std::fflush(stderr);
    dup2(saved, 2);
    close(saved);
    const std::string err = captured();

    if (code == 0) {
        fuzz_check(err.empty(), "exit code 0 with something on stderr");
    } else {
        if (code != 2) std::fprintf(stderr, "fuzz: exit code %d; stderr: %s\n", code, err.c_str());
        fuzz_check(code == 2, "a parse-only run ends with 0 or 2");
        fuzz_check(err.rfind("plat: usage error: ", 0) == 0, "a usage error starts with 'plat: usage error: '");
        fuzz_check(!err.empty() && err.back() == '\n', "the message ends with a newline");
        for (size_t i = 0; i + 1 < err.size(); i++)
            if ((unsigned char)err[i] < 0x20 || err[i] == 0x7f) {
                std::fprintf(stderr, "fuzz: control byte 0x%02x at %zu in: %s\n", (unsigned char)err[i], i, err.c_str());
                fuzz_check(false, "the message is one line of printable text");
            }
    }
    return 0;
}
