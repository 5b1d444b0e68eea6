#include "protocol/server_messages.hpp"

#include "base/base64.hpp"
#include "base/json_shape.hpp"

#include <filesystem>
#include <stdexcept>

namespace torchexam::protocol {
using json_shape::Object;
using json_shape::ShapeError;
using json_shape::write;

// The names grading/grader.hpp's is_torchscript takes (unit.messages checks
// that they agree); not called from here, so that the fuzz targets compile
// the protocol without the grader.
bool is_model_file(std::string_view file) {
  const auto ext = std::filesystem::path(file).extension();
  return ext == ".pt" || ext == ".pth";
}

void tag_invoke(json::value_from_tag, json::value& v, const LoginParams& p) { v = {{"token", p.token}}; }

LoginParams tag_invoke(json::value_to_tag<LoginParams>, const json::value& v) {
  const Object o(v);
  o.only({"token"});
  return {o.required<std::string>("token")};
}

void tag_invoke(json::value_from_tag, json::value& v, const Identity& i) {
  json::object o{{"role", i.role}, {"name", i.name}, {"environment", i.environment}, {"session", write(i.session)}};
  if (i.keepalive_s) o["keepalive_s"] = *i.keepalive_s;
  v = std::move(o);
}

Identity tag_invoke(json::value_to_tag<Identity>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("role"), o.required<std::string>("name"), o.required<std::string>("environment"),
          o.optional<std::optional<std::string>>("session"), o.optional<std::optional<double>>("keepalive_s")};
}

void tag_invoke(json::value_from_tag, json::value& v, const ExtendParams& p) {
  v = {{"session", p.session}, {"seconds", p.seconds}};
}

ExtendParams tag_invoke(json::value_to_tag<ExtendParams>, const json::value& v) {
  const Object o(v);
  o.only({"session", "seconds"});
  return {o.required<std::string>("session"), o.required<double>("seconds")};
}

void tag_invoke(json::value_from_tag, json::value& v, const SessionList& l) { v = {{"sessions", write(l.sessions)}}; }

SessionList tag_invoke(json::value_to_tag<SessionList>, const json::value& v) {
  return {Object(v).required<std::vector<ExamStatus>>("sessions")};
}

void tag_invoke(json::value_from_tag, json::value& v, const UploadParams& p) {
  json::object o{{"task", p.task}, {"file", p.file}};
  if (is_model_file(p.file)) o["source_base64"] = base64_encode(p.source);
  else o["source"] = p.source;
  if (!p.session.empty()) o["session"] = p.session;
  if (!p.workspace.empty()) o["workspace"] = p.workspace;
  v = std::move(o);
}

UploadParams tag_invoke(json::value_to_tag<UploadParams>, const json::value& v) {
  const Object o(v);
  o.only({"session", "workspace", "task", "file", "source", "source_base64"});
  UploadParams p{o.optional<std::string>("session"), o.optional<std::string>("workspace"),
                 o.required<std::string>("task"), o.optional<std::string>("file", "solution.cpp"), {}};
  const bool text = o.has("source"), bytes = o.has("source_base64");
  if (text == bytes)
    throw ShapeError("", "give exactly one of source (a source file's text) and source_base64 (a TorchScript "
                         "model's bytes, for a file name ending in .pt or .pth)");
  if (is_model_file(p.file)) {
    if (text) throw ShapeError(".source", p.file + " is a TorchScript model: send its bytes as source_base64");
    const auto encoded = o.required<std::string>("source_base64");
    try {
      p.source = base64_decode(encoded);
    } catch (const std::invalid_argument& e) {
      throw ShapeError(".source_base64", std::string("not base64 (") + e.what() + "); nothing was changed");
    }
  } else {
    if (bytes)
      throw ShapeError(".source_base64", "only a TorchScript model (a file name ending in .pt or .pth) travels as "
                                         "base64; send " + p.file + "'s text as source");
    p.source = o.required<std::string>("source");
  }
  return p;
}

void tag_invoke(json::value_from_tag, json::value& v, const Uploaded& u) {
  v = {{"submission", u.submission},
       {"queue_position", u.queue_position},
       {"source_sha256", u.source_sha256},
       {"bytes", u.bytes}};
}

Uploaded tag_invoke(json::value_to_tag<Uploaded>, const json::value& v) {
  const Object o(v);
  return {o.required<int64_t>("submission"), o.required<int>("queue_position"),
          o.required<std::string>("source_sha256"), o.required<int64_t>("bytes")};
}

void tag_invoke(json::value_from_tag, json::value& v, const Saved& s) {
  v = {{"source_sha256", s.source_sha256}, {"bytes", s.bytes}};
}

Saved tag_invoke(json::value_to_tag<Saved>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("source_sha256"), o.required<int64_t>("bytes")};
}

void tag_invoke(json::value_from_tag, json::value& v, const LayoutFile& f) { v = {{"name", f.name}, {"text", f.text}}; }

LayoutFile tag_invoke(json::value_to_tag<LayoutFile>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("name"), o.required<std::string>("text")};
}

void tag_invoke(json::value_from_tag, json::value& v, const LayoutTask& t) {
  v = {{"id", t.id}, {"title", t.title}, {"files", write(t.files)}};
}

LayoutTask tag_invoke(json::value_to_tag<LayoutTask>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("id"), o.optional<std::string>("title"),
          o.required<std::vector<LayoutFile>>("files")};
}

void tag_invoke(json::value_from_tag, json::value& v, const WorkspaceLayout& l) {
  v = {{"session", l.session},
       {"environment", l.environment},
       {"compiler_std", l.compiler_std},
       {"compiler_flags", write(l.compiler_flags)},
       {"compiler_id", l.compiler_id},
       {"tasks", write(l.tasks)}};
}

WorkspaceLayout tag_invoke(json::value_to_tag<WorkspaceLayout>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("session"),
          o.optional<std::string>("environment"),
          o.required<std::string>("compiler_std"),
          o.optional<std::vector<std::string>>("compiler_flags"),
          o.optional<std::string>("compiler_id"),
          o.required<std::vector<LayoutTask>>("tasks")};
}

}  // namespace torchexam::protocol
