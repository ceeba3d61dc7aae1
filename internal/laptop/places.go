package laptop

import (
	"path"
	"path/filepath"
	"strings"
)

// Form is the kind of file a place is, which decides how it is parsed and
// how (or whether) it is rewritten.
type Form string

// The forms of file keys hide in.
const (
	FormCredentials Form = "aws-credentials" // ~/.aws/credentials
	FormConfig      Form = "aws-config"      // ~/.aws/config
	FormStartup     Form = "startup"         // .bashrc, config.fish, PowerShell profiles ...
	FormHistory     Form = "history"         // shell histories
	FormTool        Form = "tool-config"     // ~/.boto, ~/.s3cfg, rclone, docker
	FormProject     Form = "project"         // .env*, tfvars, docker-compose files under the roots
	FormEnv         Form = "environment"     // the current process environment
)

// Shell names the history or start-up file's shell.
type Shell string

// Shells whose files have their own syntax.
const (
	ShellPOSIX      Shell = "sh" // bash, zsh, profile: export VAR=value
	ShellBash       Shell = "bash"
	ShellZsh        Shell = "zsh"
	ShellFish       Shell = "fish"
	ShellPowerShell Shell = "powershell"
)

// Place is a file to look at.
type Place struct {
	Path  string
	Form  Form
	Shell Shell // for start-up files and histories
	// Dir marks a directory whose *.fish files are start-up files
	// (fish's conf.d); the I/O layer lists it.
	Dir bool
}

// AWSFiles returns the AWS CLI's shared credentials and config files:
// AWS_SHARED_CREDENTIALS_FILE and AWS_CONFIG_FILE, else under ~/.aws.
func AWSFiles(home string, getenv func(string) string) (creds, config Place) {
	creds = Place{Path: filepath.Join(home, ".aws", "credentials"), Form: FormCredentials}
	if p := getenv("AWS_SHARED_CREDENTIALS_FILE"); p != "" {
		creds.Path = expandHome(home, p)
	}
	config = Place{Path: filepath.Join(home, ".aws", "config"), Form: FormConfig}
	if p := getenv("AWS_CONFIG_FILE"); p != "" {
		config.Path = expandHome(home, p)
	}
	return creds, config
}

func expandHome(home, p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		return filepath.Join(home, p[1:])
	}
	return p
}

// HomePlaces returns the fixed places under home, honouring
// AWS_SHARED_CREDENTIALS_FILE, AWS_CONFIG_FILE and HISTFILE. Paths are
// computed, not checked: most do not exist on a given machine.
func HomePlaces(home string, getenv func(string) string) []Place {
	j := func(p ...string) string { return filepath.Join(append([]string{home}, p...)...) }
	creds, config := AWSFiles(home, getenv)
	ps := []Place{creds, config}
	for _, f := range []string{".bashrc", ".bash_profile", ".bash_login", ".profile", ".zshrc", ".zshenv", ".zprofile", ".zlogin"} {
		ps = append(ps, Place{Path: j(f), Form: FormStartup, Shell: ShellPOSIX})
	}
	ps = append(ps,
		Place{Path: j(".config", "fish", "config.fish"), Form: FormStartup, Shell: ShellFish},
		Place{Path: j(".config", "fish", "conf.d"), Form: FormStartup, Shell: ShellFish, Dir: true},
		Place{Path: j(".config", "powershell", "Microsoft.PowerShell_profile.ps1"), Form: FormStartup, Shell: ShellPowerShell},
		Place{Path: j(".config", "powershell", "profile.ps1"), Form: FormStartup, Shell: ShellPowerShell},
		Place{Path: j("Documents", "PowerShell", "Microsoft.PowerShell_profile.ps1"), Form: FormStartup, Shell: ShellPowerShell},
		Place{Path: j("Documents", "WindowsPowerShell", "Microsoft.PowerShell_profile.ps1"), Form: FormStartup, Shell: ShellPowerShell},
		Place{Path: j(".bash_history"), Form: FormHistory, Shell: ShellBash},
		Place{Path: j(".zsh_history"), Form: FormHistory, Shell: ShellZsh},
		Place{Path: j(".zhistory"), Form: FormHistory, Shell: ShellZsh},
		Place{Path: j(".histfile"), Form: FormHistory, Shell: ShellZsh},
		Place{Path: j(".local", "share", "fish", "fish_history"), Form: FormHistory, Shell: ShellFish},
		Place{Path: j(".local", "share", "powershell", "PSReadLine", "ConsoleHost_history.txt"), Form: FormHistory, Shell: ShellPowerShell},
		Place{Path: j("AppData", "Roaming", "Microsoft", "Windows", "PowerShell", "PSReadLine", "ConsoleHost_history.txt"), Form: FormHistory, Shell: ShellPowerShell},
		Place{Path: j(".boto"), Form: FormTool},
		Place{Path: j(".s3cfg"), Form: FormTool},
		Place{Path: j(".config", "rclone", "rclone.conf"), Form: FormTool},
		Place{Path: j(".docker", "config.json"), Form: FormTool},
	)
	if h := getenv("HISTFILE"); h != "" {
		sh := ShellBash
		if strings.Contains(getenv("SHELL"), "zsh") || strings.Contains(filepath.Base(h), "zsh") {
			sh = ShellZsh
		}
		ps = append(ps, Place{Path: expandHome(home, h), Form: FormHistory, Shell: sh})
	}
	return ps
}

// IsProjectFile reports whether a file name found under a root is one
// whose keys belong to an application: .env and its variants, Terraform
// variable files, Compose files.
func IsProjectFile(name string) bool {
	switch {
	case name == ".env", strings.HasPrefix(name, ".env."), strings.HasSuffix(name, ".env"):
		return true
	case name == "terraform.tfvars", strings.HasSuffix(name, ".auto.tfvars"):
		return true
	case strings.HasPrefix(name, "docker-compose") && (strings.HasSuffix(name, ".yml") || strings.HasSuffix(name, ".yaml")):
		return true
	case name == "compose.yml", name == "compose.yaml":
		return true
	}
	return false
}

// SkipDir reports whether the walk of a root skips a directory: package
// stores, caches and version-control internals hold no one's own keys
// and most of a home directory's files.
func SkipDir(name string) bool {
	switch name {
	case "node_modules", ".git", ".hg", ".svn", ".cache", "Caches", ".npm", ".yarn", ".pnpm-store",
		".cargo", ".rustup", ".gradle", ".m2", ".ivy2", ".terraform", ".terragrunt-cache", "__pycache__",
		".venv", "venv", ".tox", ".mypy_cache", ".pytest_cache", "vendor", ".local", ".vscode-server",
		".Trash", "Library", ".docker", ".aws", ".keywarden", "snap", ".pyenv", ".nvm", ".sdkman":
		return true
	}
	return false
}

// GoModCache reports whether rel (slash-separated, relative to a root)
// is Go's module or build cache, which the walk skips too.
func GoModCache(rel string) bool {
	return path.Base(rel) == "pkg" && path.Base(path.Dir(rel)) == "go"
}
