package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"keypool/app/clients"
	"keypool/app/secrets"
	"keypool/relay"
)

// Project is a folder whose CLI is connected to a profile: its own
// configuration there gives the CLI the profile's key.
type Project struct {
	Dir       string    `json:"dir"`
	Client    Client    `json:"client"`
	Profile   string    `json:"profile"`
	Connected time.Time `json:"connected"`
}

// projectsFile lists the connected projects, beside the store.
func projectsFile(setup Setup) string { return projectsBeside(setup.Files.DB) }

func projectsBeside(db string) string { return filepath.Join(filepath.Dir(db), "projects.json") }

// ConnectedProjects lists the projects connected to this app's profiles.
func (a *App) ConnectedProjects() ([]Project, error) {
	return readProjects(projectsBeside(a.store.Path()))
}

// Projects lists the projects connected with p's data dir.
func Projects(p Params) ([]Project, error) {
	setup, err := Resolve(p)
	if err != nil {
		return nil, err
	}
	return readProjects(projectsFile(setup))
}

func readProjects(path string) ([]Project, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Project
	if err := json.Unmarshal(b, &out); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

func writeProjects(path string, list []Project) error {
	b, err := json.MarshalIndent(list, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

// ConnectProject writes CLI c's project configuration in dir so that it is
// served by profile, and notes the project.
func ConnectProject(p Params, keys secrets.Keychain, dir string, c Client, profile string) (ClientAccess, error) {
	if profile == "" {
		return ClientAccess{}, errors.New("--project needs --profile NAME: the profile that serves the project (keypool profiles list)")
	}
	dir, err := projectDir(dir)
	if err != nil {
		return ClientAccess{}, err
	}
	acc, err := AccessFor(p, keys, profile)
	if err != nil {
		return ClientAccess{}, err
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return ClientAccess{}, err
	}
	// Codex reads no project config: the relay routes its sessions by the
	// folder they start in instead (see relay.FolderRoute).
	if c != Codex {
		if err := clients.ConnectProject(home, dir, c, acc.Base, acc.Key); err != nil {
			return ClientAccess{}, err
		}
	}
	setup, err := Resolve(p)
	if err != nil {
		return acc, err
	}
	path := projectsFile(setup)
	list, err := readProjects(path)
	if err != nil {
		return acc, err
	}
	list = slices.DeleteFunc(list, func(x Project) bool { return x.Dir == dir && x.Client == c })
	list = append(list, Project{Dir: dir, Client: c, Profile: profile, Connected: time.Now().UTC()})
	if err := writeProjects(path, list); err != nil {
		return acc, err
	}
	return acc, reloadProjects(setup)
}

// reloadProjects tells the relay that holds the data dir, if one runs, to
// read the projects again.
func reloadProjects(setup Setup) error {
	r, err := DialAccounts(setup.Files.DB)
	if err != nil {
		return nil // none runs: it reads them when it starts
	}
	return r.call("POST", "/v1/projects/reload", nil, nil)
}

// loadFolderRoutes gives the relay the Codex projects, routed by folder.
func (a *App) loadFolderRoutes() {
	list, err := a.ConnectedProjects()
	if err != nil {
		a.log.Warn("read the connected projects", "err", err)
		return
	}
	var rs []relay.FolderRoute
	for _, p := range list {
		if p.Client == Codex {
			rs = append(rs, relay.FolderRoute{Dir: p.Dir, Profile: p.Profile})
		}
	}
	a.relay.SetFolderRoutes(rs)
}

// DisconnectProject undoes ConnectProject byte for byte.
func DisconnectProject(p Params, dir string, c Client) error {
	dir, err := projectDir(dir)
	if err != nil {
		return err
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return err
	}
	if c != Codex {
		if err := clients.DisconnectProject(home, dir, c); err != nil {
			return err
		}
	}
	setup, err := Resolve(p)
	if err != nil {
		return err
	}
	path := projectsFile(setup)
	list, err := readProjects(path)
	if err != nil {
		return err
	}
	if err := writeProjects(path, slices.DeleteFunc(list, func(x Project) bool { return x.Dir == dir && x.Client == c })); err != nil {
		return err
	}
	return reloadProjects(setup)
}

// projectDir is dir as an absolute, clean path of a folder that exists.
func projectDir(dir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("project %s: not a folder", dir)
	}
	return abs, nil
}
