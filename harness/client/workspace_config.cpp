#include "client/workspace_config.hpp"

#include "base/hash.hpp"
#include "base/json_shape.hpp"

#include <boost/json.hpp>

#include <system_error>

namespace torchexam {
namespace fs = std::filesystem;
namespace json = boost::json;

fs::path workspace_config_file(const fs::path& root) { return root / ".torchexam" / "server.json"; }

namespace {

WorkspaceConfig read_config(const fs::path& file) {
  const std::string again =
      "; join the server again (torchexam join HOST:PORT --ca-file CA --token-file TOKEN) to "
      "write it anew";
  std::string text;
  try {
    text = read_file(file);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot read " + file.string() + ": " + e.what());
  }
  boost::system::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec) throw std::runtime_error(file.string() + " is not JSON (" + ec.message() + ")" + again);
  try {
    const json_shape::Object o(v);
    WorkspaceConfig c;
    c.server = o.required<std::string>("server");
    c.ca_file = o.required<std::string>("ca_file");
    c.token_file = o.required<std::string>("token_file");
    c.root = file.parent_path().parent_path();
    return c;
  } catch (const json_shape::ShapeError& e) {
    throw std::runtime_error(file.string() + ": " + e.what_at() + again);
  }
}

}  // namespace

std::optional<WorkspaceConfig> find_workspace_config(const fs::path& from) {
  std::error_code ec;
  fs::path dir = fs::absolute(from, ec).lexically_normal();
  if (ec) return std::nullopt;
  for (;;) {
    const fs::path file = workspace_config_file(dir);
    if (fs::is_regular_file(file, ec)) return read_config(file);
    if (!dir.has_relative_path()) return std::nullopt;  // the root folder
    dir = dir.parent_path();
  }
}

void write_workspace_config(const WorkspaceConfig& c) {
  const fs::path file = workspace_config_file(c.root);
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (ec) throw std::runtime_error("cannot create " + file.parent_path().string() + ": " + ec.message());
  const json::object o{{"server", c.server}, {"ca_file", c.ca_file.string()}, {"token_file", c.token_file.string()}};
  write_file_atomically(file, json::serialize(o) + "\n", Durability::synced);
}

}  // namespace torchexam
