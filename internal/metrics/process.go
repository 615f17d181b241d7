package metrics

import (
	"bytes"
	"math"
	"os"
	"strconv"
	"strings"
)

// userHZ is the kernel's clock tick for /proc's times: 100 on every
// Linux that Go supports (sysconf(_SC_CLK_TCK), without cgo).
const userHZ = 100

// processFamilies are the process collector's families: the names and
// types Prometheus' Go client gives them, in l402's words.
var processFamilies = []struct{ name, typ, help string }{
	{"process_cpu_seconds_total", "counter",
		"CPU time (user and system) this process has used, in seconds."},
	{"process_max_fds", "gauge",
		"The most file descriptors this process may open (its soft limit)."},
	{"process_network_receive_bytes_total", "counter",
		"Bytes received over the network (the process' network namespace)."},
	{"process_network_transmit_bytes_total", "counter",
		"Bytes sent over the network (the process' network namespace)."},
	{"process_open_fds", "gauge",
		"File descriptors this process has open."},
	{"process_resident_memory_bytes", "gauge",
		"This process' resident memory, in bytes."},
	{"process_start_time_seconds", "gauge",
		"When this process started, in seconds since the Unix epoch."},
	{"process_virtual_memory_bytes", "gauge",
		"This process' virtual memory, in bytes."},
	{"process_virtual_memory_max_bytes", "gauge",
		"The most virtual memory this process may map (its soft limit), " +
			"in bytes."},
}

// processCollector reads the process' families from /proc at each
// scrape. Where /proc cannot be read (not Linux) the families it needs
// are left out.
type processCollector struct {
	proc string // /proc's path: another in tests
}

// ProcessCollector returns the collector of the process families
// (process_cpu_seconds_total, process_resident_memory_bytes, ...) that
// Prometheus' Go client registers by default, read from /proc/self.
func ProcessCollector() Collector {
	return processCollector{proc: "/proc"}
}

// names implements Collector.
func (c processCollector) names() []string {
	var n []string
	for _, f := range processFamilies {
		n = append(n, f.name)
	}
	return n
}

// collect implements Collector.
func (c processCollector) collect(fs []family) []family {
	values := map[string]float64{}
	if stat, err := os.ReadFile(c.proc + "/self/stat"); err == nil {
		c.fromStat(values, stat)
	}
	if limits, err := os.ReadFile(c.proc + "/self/limits"); err == nil {
		if v, ok := limit(limits, "Max open files"); ok {
			values["process_max_fds"] = v
		}
		if v, ok := limit(limits, "Max address space"); ok {
			values["process_virtual_memory_max_bytes"] = v
		}
	}
	if d, err := os.Open(c.proc + "/self/fd"); err == nil {
		names, err := d.Readdirnames(-1)
		d.Close()
		if err == nil {
			values["process_open_fds"] = float64(len(names))
		}
	}
	if netstat, err := os.ReadFile(c.proc + "/self/net/netstat"); err == nil {
		ext := netstatFields(netstat, "IpExt:")
		if v, ok := ext["InOctets"]; ok {
			values["process_network_receive_bytes_total"] = v
		}
		if v, ok := ext["OutOctets"]; ok {
			values["process_network_transmit_bytes_total"] = v
		}
	}
	for _, f := range processFamilies {
		if v, ok := values[f.name]; ok {
			fs = append(fs, family{name: f.name, help: f.help, typ: f.typ,
				samples: appendSample(nil, f.name, "", "", "", v)})
		}
	}
	return fs
}

// fromStat sets the families /proc/self/stat gives: CPU time, memory
// and (with /proc/stat's boot time) the start time. The fields are
// counted after the command's name, which is in parentheses and may
// hold spaces and parentheses itself.
func (c processCollector) fromStat(values map[string]float64, stat []byte) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return
	}
	// f[0] is field 3 of proc(5): state.
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 22 {
		return
	}
	num := func(field int) (float64, bool) {
		v, err := strconv.ParseUint(f[field-3], 10, 64)
		return float64(v), err == nil
	}
	if ut, ok := num(14); ok {
		if st, ok := num(15); ok {
			values["process_cpu_seconds_total"] = (ut + st) / userHZ
		}
	}
	if v, ok := num(23); ok {
		values["process_virtual_memory_bytes"] = v
	}
	if v, ok := num(24); ok {
		values["process_resident_memory_bytes"] = v *
			float64(os.Getpagesize())
	}
	start, ok := num(22)
	if !ok {
		return
	}
	if s, err := os.ReadFile(c.proc + "/stat"); err == nil {
		for line := range strings.Lines(string(s)) {
			if rest, found := strings.CutPrefix(line, "btime "); found {
				boot, err := strconv.ParseUint(strings.TrimSpace(rest),
					10, 64)
				if err == nil {
					values["process_start_time_seconds"] =
						float64(boot) + start/userHZ
				}
			}
		}
	}
}

// limit returns the soft limit of a /proc/self/limits row (its name,
// then the soft and hard limits and the unit); unlimited is the largest
// uint64, as the kernel's RLIM_INFINITY.
func limit(limits []byte, name string) (float64, bool) {
	for line := range strings.Lines(string(limits)) {
		rest, found := strings.CutPrefix(line, name+" ")
		if !found {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			return 0, false
		}
		if f[0] == "unlimited" {
			return math.MaxUint64, true
		}
		v, err := strconv.ParseUint(f[0], 10, 64)
		return float64(v), err == nil
	}
	return 0, false
}

// netstatFields returns the values of a /proc/net/netstat section (a
// line of names, then a line of values, both starting with prefix).
func netstatFields(netstat []byte, prefix string) map[string]float64 {
	var rows [][]string
	for line := range strings.Lines(string(netstat)) {
		if rest, found := strings.CutPrefix(line, prefix); found {
			rows = append(rows, strings.Fields(rest))
		}
	}
	out := map[string]float64{}
	if len(rows) != 2 || len(rows[0]) != len(rows[1]) {
		return out
	}
	for i, name := range rows[0] {
		if v, err := strconv.ParseUint(rows[1][i], 10, 64); err == nil {
			out[name] = float64(v)
		}
	}
	return out
}
