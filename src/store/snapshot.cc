// SPDX-License-Identifier: MIT
// Snapshot file format (little-endian) and its writer and reader.
//   header  "HKVSNAP\0", u32 version (1), u32 reserved (0)
//   record  u8 'R', u8 key length, u8 content-type length, u8 0, u32 value length,
//           u64 stored-at ms, u64 expires-at ms (0 = never), key, content type, value
//   end     u8 'E', u64 record count, u64 XXH3-64 of every byte before this checksum
#include "store/snapshot.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <system_error>
#include <vector>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace hkv {

namespace {

constexpr char kMagic[8] = {'H', 'K', 'V', 'S', 'N', 'A', 'P', '\0'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kRecordHeader = 24;
constexpr std::size_t kBufferBytes = 1 << 20;

[[noreturn]] void throw_errno(const std::string& what) { throw std::system_error(errno, std::generic_category(), what); }

struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

struct StateFree {
  void operator()(XXH3_state_t* s) const { XXH3_freeState(s); }
};

// Buffered output that hashes everything it writes.
class Writer {
 public:
  Writer(std::FILE* f, const std::string& path) : f_(f), path_(path), hash_(XXH3_createState()) {
    XXH3_64bits_reset(hash_.get());
  }
  void put(const void* p, std::size_t n) {
    if (n == 0) return;
    XXH3_64bits_update(hash_.get(), p, n);
    if (std::fwrite(p, 1, n, f_) != n) throw_errno("writing " + path_);
  }
  template <class T>
  void put_int(T v) {
    put(&v, sizeof v);  // the file is little-endian, as is every machine hkv builds for
  }
  std::uint64_t digest() const { return XXH3_64bits_digest(hash_.get()); }

 private:
  std::FILE* f_;
  const std::string& path_;
  std::unique_ptr<XXH3_state_t, StateFree> hash_;
};

// Buffered input that hashes everything it reads and reports a short file as truncation.
class Reader {
 public:
  Reader(std::FILE* f, const std::string& path, std::uint64_t file_size)
      : f_(f), path_(path), hash_(XXH3_createState()), left_(file_size) {
    XXH3_64bits_reset(hash_.get());
  }
  void get(void* p, std::size_t n) {
    if (n == 0) return;
    if (std::fread(p, 1, n, f_) != n) {
      if (std::ferror(f_)) throw_errno("reading " + path_);
      truncated();
    }
    XXH3_64bits_update(hash_.get(), p, n);
    left_ -= std::min<std::uint64_t>(n, left_);
  }
  // Checks that `n` more bytes are in the file before a caller sizes a buffer for them, so that
  // a damaged length field cannot make the load allocate gigabytes.
  void expect(std::uint64_t n) const {
    if (n > left_) truncated();
  }
  template <class T>
  T get_int() {
    T v;
    get(&v, sizeof v);
    return v;
  }
  std::uint64_t digest() const { return XXH3_64bits_digest(hash_.get()); }
  bool at_end() { return std::fgetc(f_) == EOF; }

 private:
  [[noreturn]] void truncated() const {
    throw SnapshotError("snapshot " + path_ + " is truncated (ends inside a record, or has no end marker)");
  }

  std::FILE* f_;
  const std::string& path_;
  std::unique_ptr<XXH3_state_t, StateFree> hash_;
  std::uint64_t left_;  // bytes of the file not read yet
};

std::string directory_of(const std::string& path) {
  std::size_t slash = path.rfind('/');
  return slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
}

// The file a snapshot is written to before it is renamed over `path`.
std::string temporary_of(const std::string& path) { return path + ".tmp." + std::to_string(::getpid()); }

void fsync_directory_of(const std::string& path) {
  const std::string dir = directory_of(path);
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw_errno("opening directory " + dir);
  int rc = ::fsync(fd);
  int saved = errno;
  ::close(fd);
  if (rc != 0) {
    errno = saved;
    throw_errno("syncing directory " + dir);
  }
}

// Reads the whole file once. With `store` null it only verifies; otherwise it also loads.
SnapshotCounts scan(const std::string& path, Store* store, std::uint64_t now_ms) {
  std::vector<char> buffer(kBufferBytes);  // declared first: fclose() flushes through it
  File f(std::fopen(path.c_str(), "rbe"));
  if (!f) throw_errno("opening snapshot " + path);
  std::setvbuf(f.get(), buffer.data(), _IOFBF, buffer.size());
  struct stat st;
  if (::fstat(::fileno(f.get()), &st) != 0) throw_errno("reading " + path);
  Reader in(f.get(), path, static_cast<std::uint64_t>(st.st_size));
  char magic[sizeof kMagic];
  in.get(magic, sizeof magic);
  if (std::memcmp(magic, kMagic, sizeof kMagic) != 0) throw SnapshotError(path + " is not an hkv snapshot");
  const auto version = in.get_int<std::uint32_t>();
  if (version != kVersion) {
    throw SnapshotError("snapshot " + path + " has format version " + std::to_string(version) +
                        "; this hkv reads version " + std::to_string(kVersion));
  }
  in.get_int<std::uint32_t>();
  SnapshotCounts counts;
  std::uint64_t records = 0;
  std::string key, type, bytes;
  for (;;) {
    const auto tag = in.get_int<std::uint8_t>();
    if (tag == 'E') break;
    if (tag != 'R') throw SnapshotError("snapshot " + path + " is corrupt (unknown record tag)");
    unsigned char h[kRecordHeader - 1];
    in.get(h, sizeof h);
    std::uint32_t size;
    std::uint64_t stored_at_ms, expires_at_ms;
    std::memcpy(&size, h + 3, 4);
    std::memcpy(&stored_at_ms, h + 7, 8);
    std::memcpy(&expires_at_ms, h + 15, 8);
    in.expect(std::uint64_t{h[0]} + h[1] + size);
    key.resize(h[0]);
    type.resize(h[1]);
    bytes.resize(size);
    in.get(key.data(), key.size());
    in.get(type.data(), type.size());
    in.get(bytes.data(), bytes.size());
    ++records;
    if (store == nullptr) continue;
    if (expires_at_ms != 0 && expires_at_ms <= now_ms) {
      ++counts.expired;
      continue;
    }
    ValueMeta meta{type, stored_at_ms, expires_at_ms};
    store->put(key, bytes, meta);
    ++counts.keys;
    counts.bytes += size;
  }
  const auto count = in.get_int<std::uint64_t>();
  const std::uint64_t expected = in.digest();
  std::uint64_t checksum;
  in.get(&checksum, sizeof checksum);
  if (checksum != expected || count != records) {
    throw SnapshotError("snapshot " + path + " is corrupt (checksum or record count mismatch)");
  }
  if (!in.at_end()) throw SnapshotError("snapshot " + path + " is corrupt (data after the end marker)");
  return counts;
}

}  // namespace

void check_snapshot_writable(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
    errno = EISDIR;
    throw_errno(path);
  }
  const std::string dir = directory_of(path);
  if (::stat(dir.c_str(), &st) != 0) throw_errno("directory " + dir);
  if (!S_ISDIR(st.st_mode)) {
    errno = ENOTDIR;
    throw_errno(dir);
  }
  const std::string temp = temporary_of(path);
  File f(std::fopen(temp.c_str(), "wbe"));
  if (!f) throw_errno("creating " + temp);
  const bool ok = std::fputc('\n', f.get()) != EOF && std::fflush(f.get()) == 0 && ::fsync(::fileno(f.get())) == 0;
  const int saved = errno;
  f.reset();
  std::remove(temp.c_str());
  if (!ok) {
    errno = saved;
    throw_errno("writing " + temp);
  }
}

SnapshotCounts write_snapshot(Store& store, const std::string& path, std::uint64_t now_ms) {
  const std::string temp = temporary_of(path);
  std::vector<char> buffer(kBufferBytes);  // declared first: fclose() flushes through it
  File f(std::fopen(temp.c_str(), "wbe"));
  if (!f) throw_errno("creating " + temp);
  SnapshotCounts counts;
  try {
    std::setvbuf(f.get(), buffer.data(), _IOFBF, buffer.size());
    Writer out(f.get(), temp);
    out.put(kMagic, sizeof kMagic);
    out.put_int<std::uint32_t>(kVersion);
    out.put_int<std::uint32_t>(0);
    store.for_each([&](const Value& v) {
      const std::uint64_t expires = v.expires_at_ms();
      if (expires != 0 && expires <= now_ms) {
        ++counts.expired;
        return;
      }
      unsigned char h[kRecordHeader];
      const std::uint32_t size = static_cast<std::uint32_t>(v.size());
      const std::uint64_t stored_at_ms = std::uint64_t{v.stored_at_s()} * 1000;
      h[0] = 'R';
      h[1] = static_cast<unsigned char>(v.key().size());
      h[2] = static_cast<unsigned char>(v.content_type().size());
      h[3] = 0;
      std::memcpy(h + 4, &size, 4);
      std::memcpy(h + 8, &stored_at_ms, 8);
      std::memcpy(h + 16, &expires, 8);
      out.put(h, sizeof h);
      out.put(v.key().data(), v.key().size());
      out.put(v.content_type().data(), v.content_type().size());
      out.put(v.data(), v.size());
      ++counts.keys;
      counts.bytes += size;
    });
    out.put_int<std::uint8_t>('E');
    out.put_int<std::uint64_t>(counts.keys);
    const std::uint64_t checksum = out.digest();
    out.put(&checksum, sizeof checksum);
    if (std::fflush(f.get()) != 0) throw_errno("writing " + temp);
    if (::fsync(::fileno(f.get())) != 0) throw_errno("syncing " + temp);
    if (std::fclose(f.release()) != 0) throw_errno("closing " + temp);
    if (std::rename(temp.c_str(), path.c_str()) != 0) throw_errno("renaming " + temp + " to " + path);
  } catch (...) {
    f.reset();
    std::remove(temp.c_str());
    throw;
  }
  fsync_directory_of(path);
  return counts;
}

SnapshotCounts load_snapshot(Store& store, const std::string& path, std::uint64_t now_ms) {
  scan(path, nullptr, now_ms);  // verify everything before loading anything
  return scan(path, &store, now_ms);
}

namespace {

std::string clean_stop_mark(const std::string& path) { return path + ".clean"; }

}  // namespace

void mark_clean_stop(const std::string& path) {
  const std::string mark = clean_stop_mark(path);
  int fd = ::open(mark.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw_errno("creating " + mark);
  static constexpr char kText[] = "the snapshot beside this file was written by a clean stop\n";
  bool ok = ::write(fd, kText, sizeof kText - 1) == static_cast<ssize_t>(sizeof kText - 1) && ::fsync(fd) == 0;
  int saved = errno;
  ::close(fd);
  if (!ok) {
    errno = saved;
    throw_errno("writing " + mark);
  }
  fsync_directory_of(mark);
}

bool take_clean_stop_mark(const std::string& path) {
  const std::string mark = clean_stop_mark(path);
  if (::unlink(mark.c_str()) != 0) {
    if (errno == ENOENT) return false;
    throw_errno("removing " + mark);
  }
  fsync_directory_of(mark);
  return true;
}

}  // namespace hkv
