#include "cli/completion.h"

#include <sstream>
#include <vector>

namespace sluice::cli {
namespace {

std::string joined(const std::vector<std::string>& words, const char* separator) {
  std::string out;
  for (const std::string& w : words) out += (out.empty() ? "" : separator) + w;
  return out;
}

// The flag spellings of an app's named options: "-n --namespace ...".
std::string flagsOf(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* option : app.get_options()) {
    if (option->get_positional()) continue;
    for (const std::string& s : option->get_snames()) out.push_back("-" + s);
    for (const std::string& l : option->get_lnames()) out.push_back("--" + l);
  }
  return joined(out, " ");
}

// What a subcommand's positional argument is: a Function's name, or paths.
std::string positionalKind(const CLI::App& sub) {
  for (const CLI::Option* option : sub.get_options()) {
    if (!option->get_positional()) continue;
    return option->get_name() == "name" ? "function" : "file";
  }
  return "";
}

// A subcommand with its own (dlq: ls, redrive): those right after it, then
// their flags (all of them: the script does not track the second word) or a
// Function's name.
std::string nestedCase(const CLI::App& sub) {
  std::vector<std::string> names;
  std::string flags;
  for (const CLI::App* nested : sub.get_subcommands([](const CLI::App*) { return true; })) {
    names.push_back(nested->get_name());
    std::istringstream words(flagsOf(*nested));
    for (std::string w; words >> w;) {
      if ((" " + flags + " ").find(" " + w + " ") == std::string::npos) flags += (flags.empty() ? "" : " ") + w;
    }
  }
  std::ostringstream s;
  s << "      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"" << flags << " $global\" -- \"$cur\"))\n"
    << "      elif [[ $prev == " << sub.get_name() << " ]]; then COMPREPLY=($(compgen -W \"" << joined(names, " ")
    << "\" -- \"$cur\"))\n"
    << "      else COMPREPLY=($(compgen -W \"$(_sluice_functions)\" -- \"$cur\"))\n"
    << "      fi ;;\n";
  return s.str();
}

}  // namespace

Result<std::string> completionScript(const CLI::App& app, const std::string& shell) {
  if (shell != "bash" && shell != "zsh") {
    return invalidArgument("shell: \"" + shell + "\" is not bash or zsh");
  }
  std::vector<const CLI::App*> subs = app.get_subcommands([](const CLI::App*) { return true; });
  std::vector<std::string> names;
  for (const CLI::App* sub : subs) names.push_back(sub->get_name());
  std::ostringstream s;
  s << "# " << shell << " completion for sluice: source <(sluice completion " << shell << ")\n";
  if (shell == "zsh") s << "autoload -U +X bashcompinit && bashcompinit\n";
  s << "_sluice_functions() {\n"
       "  command -v kubectl >/dev/null 2>&1 || return 0\n"
       "  kubectl get functions.sluice.io -o jsonpath='{.items[*].metadata.name}' 2>/dev/null\n"
       "}\n"
       "_sluice() {\n"
       "  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} sub='' i\n"
       "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
       "    case ${COMP_WORDS[i]} in\n"
       "      "
    << joined(names, "|")
    << ") sub=${COMP_WORDS[i]}; break ;;\n"
       "    esac\n"
       "  done\n"
       "  case $prev in\n"
       "    -o|--output) COMPREPLY=($(compgen -W 'text json yaml' -- \"$cur\")); return ;;\n"
       "    --kubeconfig|-f|--file) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
       "  esac\n"
       "  local global='"
    << flagsOf(app)
    << "'\n"
       "  case $sub in\n"
       "    '') COMPREPLY=($(compgen -W \""
    << joined(names, " ") << " $global\" -- \"$cur\")) ;;\n";
  for (const CLI::App* sub : subs) {
    const std::string kind = positionalKind(*sub);
    s << "    " << sub->get_name() << ")\n";
    if (!sub->get_subcommands([](const CLI::App*) { return true; }).empty()) {
      s << nestedCase(*sub);
      continue;
    }
    s << "      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W \"" << flagsOf(*sub) << " $global\" -- \"$cur\"))\n";
    if (kind == "function") s << "      else COMPREPLY=($(compgen -W \"$(_sluice_functions)\" -- \"$cur\"))\n";
    if (kind == "file") s << "      else COMPREPLY=($(compgen -f -- \"$cur\"))\n";
    s << "      fi ;;\n";
  }
  s << "  esac\n"
       "}\n"
       "complete -F _sluice sluice kubectl-sluice\n";
  return s.str();
}

}  // namespace sluice::cli
