// SPDX-License-Identifier: MIT
// libFuzzer target: load_snapshot on arbitrary file contents into a real store. A bad file must
// load nothing; a good one must survive write_snapshot and a second load unchanged.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <tuple>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "fuzz_store.h"
#include "store/snapshot.h"

namespace {

// Input layout: byte 0 bit 0 set means the last 8 bytes are replaced by the checksum of the bytes
// before them, so that damaged records get past the checksum and reach the store; the rest is
// the file.
constexpr std::uint64_t kNowMs = 1'700'000'000'000;  // a fixed "now": expiry is reproducible

// The file being loaded lives in a memfd; the written copy in a private temporary directory.
struct Files {
  int fd = memfd_create("snapshot", MFD_CLOEXEC);
  std::string input = "/proc/self/fd/" + std::to_string(fd);
  std::filesystem::path dir = make_dir();
  std::string output = dir / "copy.snapshot";

  ~Files() { std::filesystem::remove_all(dir); }
  static std::filesystem::path make_dir() {
    std::string t = std::filesystem::temp_directory_path() / "hkv-fuzz-snapshot-XXXXXX";
    if (mkdtemp(t.data()) == nullptr) std::abort();
    return t;
  }
};

using Contents = std::map<std::string, std::tuple<std::string, std::string, std::uint64_t, std::uint32_t>>;

Contents contents(hkv::Store& s) {
  Contents c;
  s.for_each([&](const hkv::Value& v) {
    c[std::string(v.key())] = {std::string(v.bytes()), std::string(v.content_type()), v.expires_at_ms(),
                               v.stored_at_s()};
  });
  return c;
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Files files;
  static hkv::Store& loaded = hkv::fuzz::process_store(hkv::StoreKind::lockfree, 0);
  static hkv::Store& reloaded = hkv::fuzz::process_store(hkv::StoreKind::sharded, 0);
  if (size < 1) return 0;
  std::string file(reinterpret_cast<const char*>(data) + 1, size - 1);
  if ((data[0] & 1) && file.size() >= 8) {
    const std::uint64_t sum = XXH3_64bits(file.data(), file.size() - 8);
    std::memcpy(file.data() + file.size() - 8, &sum, 8);
  }
  check(ftruncate(files.fd, 0) == 0);
  check(pwrite(files.fd, file.data(), file.size(), 0) == static_cast<ssize_t>(file.size()));

  try {
    hkv::load_snapshot(loaded, files.input, kNowMs);
  } catch (const hkv::SnapshotError&) {
    check(loaded.size() == 0);  // a bad file loads nothing
    return 0;
  }
  hkv::write_snapshot(loaded, files.output, kNowMs);
  hkv::load_snapshot(reloaded, files.output, kNowMs);
  check(contents(loaded) == contents(reloaded));
  hkv::fuzz::empty_store(loaded);
  hkv::fuzz::empty_store(reloaded);
  return 0;
}
