#include "cli/parse_errors.hpp"

#include "config/config.hpp"  // closest_match

#include <algorithm>
#include <string_view>
#include <vector>

namespace torchexam::cli {
namespace {

std::vector<std::string> subcommand_names(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) out.push_back(sub->get_name());
  return out;
}

// The long option names of `app` without their dashes ("json", ...), its
// own and its parents'.
std::vector<std::string> option_names(const CLI::App* app) {
  std::vector<std::string> out;
  for (; app; app = app->get_parent())
    for (const CLI::Option* o : app->get_options())
      for (const auto& name : o->get_lnames()) out.push_back(name);
  return out;
}

}  // namespace

std::string explain_parse_error(const CLI::App& app, int argc, char** argv, const CLI::ParseError& error) {
  // The first word that is neither an option nor the value of one of
  // torchexam's own options (--server HOST:PORT) names the command.
  std::string_view word;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg[0] != '-') {
      word = arg;
      break;
    }
    if (arg.find('=') != std::string_view::npos) continue;
    for (const CLI::Option* o : app.get_options())
      if (o->check_name(std::string(arg)) && o->get_type_size() != 0) {
        ++i;  // its value
        break;
      }
  }
  const auto commands = subcommand_names(app);
  const bool known = std::find(commands.begin(), commands.end(), word) != commands.end();
  if (!word.empty() && !known) {
    const std::string guess = config::closest_match(word, commands);
    return "unknown command '" + std::string(word) + "'" + (guess.empty() ? "" : "; did you mean '" + guess + "'?") +
           " (torchexam --help lists the commands)";
  }
  const CLI::App* sub = known ? app.get_subcommand(std::string(word)) : &app;
  const std::string help = known ? "torchexam " + std::string(word) + " --help" : "torchexam --help";
  // An option no one declares: name it, and the closest one that exists.
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-' || arg == "--") continue;
    const std::string name(arg.substr(0, arg.find('=')));
    bool declared = false;
    for (const CLI::App* a = sub; a && !declared; a = a->get_parent())
      for (const CLI::Option* o : a->get_options())
        if (o->check_name(name)) declared = true;
    if (declared) continue;
    auto names = option_names(sub);
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    const std::string bare = name.substr(std::min(name.find_first_not_of('-'), name.size()));
    std::string guess = config::closest_match(bare, names);
    if (guess.empty() && bare.size() == 1)  // "-v" for "--version": the one long name it starts
      for (const auto& n : names)
        if (!n.empty() && n[0] == bare[0]) guess = guess.empty() ? n : "\n";  // "\n": more than one
    if (guess == "\n") guess.clear();
    if (!guess.empty()) guess = "--" + guess;
    return "unknown option '" + name + "'" + (guess.empty() ? "" : "; did you mean '" + guess + "'?") + " (" + help +
           " lists the options)";
  }
  if (word.empty() && !commands.empty()) return "a command is required (torchexam --help lists the commands)";
  return std::string(error.what()) + " (" + help + ")";
}

}  // namespace torchexam::cli
