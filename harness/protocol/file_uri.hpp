// file_uri.hpp — file:// URIs for the LSP's documents, both ways: the
// language server's towards editors and the save-time checker's towards
// clangd. Pure functions.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace torchexam::protocol {

// file:// URIs, percent-encoded as VS Code does (RFC 3986 unreserved and '/'
// kept). path_of_uri returns nullopt for any other scheme.
std::string file_uri(const std::filesystem::path& path);
std::optional<std::filesystem::path> path_of_uri(std::string_view uri);

}  // namespace torchexam::protocol
