# zsh completion for sluice: source <(sluice completion zsh)
autoload -U +X bashcompinit && bashcompinit
_sluice_functions() {
  command -v kubectl >/dev/null 2>&1 || return 0
  kubectl get functions.sluice.io -o jsonpath='{.items[*].metadata.name}' 2>/dev/null
}
_sluice() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} sub='' i
  for ((i = 1; i < COMP_CWORD; i++)); do
    case ${COMP_WORDS[i]} in
      init|check|apply|delete|describe|build|logs|invoke|dlq|local|simulate|version|completion) sub=${COMP_WORDS[i]}; break ;;
    esac
  done
  case $prev in
    -o|--output) COMPREPLY=($(compgen -W 'text json yaml' -- "$cur")); return ;;
    --kubeconfig|-f|--file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
  esac
  local global='-h --help --version --kubeconfig --context -n --namespace -o --output'
  case $sub in
    '') COMPREPLY=($(compgen -W "init check apply delete describe build logs invoke dlq local simulate version completion $global" -- "$cur")) ;;
    init)
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "-h --help -t --template --name --force --list $global" -- "$cur"))
      else COMPREPLY=($(compgen -f -- "$cur"))
      fi ;;
    check)
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "-h --help $global" -- "$cur"))
      else COMPREPLY=($(compgen -f -- "$cur"))
      fi ;;
    apply)
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "-h --help --force-conflicts $global" -- "$cur"))
      else COMPREPLY=($(compgen -f -- "$cur"))
      fi ;;
    delete)
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "-h --help -f --filename --ignore-not-found $global" -- "$cur"))
      else COMPREPLY=($(compgen -f -- "$cur"))
      fi ;;
    describe)
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "-h --help --prometheus $global" -- "$cur"))
      else COMPREPLY=($(compgen -W "$(_sluice_functions)" -- "$cur"))
      fi ;;
    build)
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "-h --help --name --base --index-url --python $global" -- "$cur"))
      else COMPREPLY=($(compgen -f -- "$cur"))
      fi ;;
    logs)
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "-h --help -f --follow --tail --request-id $global" -- "$cur"))
      else COMPREPLY=($(compgen -W "$(_sluice_functions)" -- "$cur"))
      fi ;;
    invoke)
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "-h --help --local --gateway -d --data -f --file -X --method -H --header --path --async --timeout $global" -- "$cur"))
      else COMPREPLY=($(compgen -W "$(_sluice_functions)" -- "$cur"))
      fi ;;
    dlq)
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "-h --help --trigger --limit --all --id --dry-run $global" -- "$cur"))
      elif [[ $prev == dlq ]]; then COMPREPLY=($(compgen -W "ls redrive" -- "$cur"))
      else COMPREPLY=($(compgen -W "$(_sluice_functions)" -- "$cur"))
      fi ;;
    local)
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "-h --help $global" -- "$cur"))
      else COMPREPLY=($(compgen -f -- "$cur"))
      fi ;;
    simulate)
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "-h --help $global" -- "$cur"))
      fi ;;
    version)
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "-h --help $global" -- "$cur"))
      fi ;;
    completion)
      if [[ $cur == -* ]]; then COMPREPLY=($(compgen -W "-h --help $global" -- "$cur"))
      else COMPREPLY=($(compgen -f -- "$cur"))
      fi ;;
  esac
}
complete -F _sluice sluice kubectl-sluice
