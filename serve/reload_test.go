package serve

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

// TestReloadLogsEachServicesPrice: the reload line names every service
// with its price after the reload, so that whoever sent SIGHUP (an agent
// following the sell skill) sees in one line that the new prices took.
func TestReloadLogsEachServicesPrice(t *testing.T) {
	cfgText := strings.Replace(apertureSkillConfig, "  network:",
		"  disable: true\n  network:", 1)
	path := writeConfig(t, cfgText)
	cfg, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	s := &server{opts: RunOptions{ConfigPath: path}, cfg: cfg,
		metrics: NewMetrics(), log: newLogger(&log, &Config{DebugLevel: "info"})}
	h, err := s.handler(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.current.Store(h)

	cfgText = strings.Replace(cfgText, "price: 100", "price: 150", 1) +
		`  - name: "reports"
    hostregexp: ".*"
    pathregexp: "^/reports/"
    address: "127.0.0.1:8080"
    price: 500
    auth: "freebie 3"
  - name: "health"
    hostregexp: ".*"
    pathregexp: "^/health$"
    address: "127.0.0.1:8080"
    auth: "off"
`
	if err := os.WriteFile(path, []byte(cfgText), 0o600); err != nil {
		t.Fatal(err)
	}
	s.reload()
	defer s.current.Load().Close()
	want := `msg="config reloaded" services=3 prices="api 150 sat, ` +
		`reports 500 sat after 3 free, health free (auth off)"`
	if !strings.Contains(log.String(), want) {
		t.Fatalf("log:\n%s\nwant a line with %s", log.String(), want)
	}
}
