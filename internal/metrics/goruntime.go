package metrics

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"time"
)

// goFamily is one of the Go collector's families: the names and types
// Prometheus' Go client gives them (its default collector, memory
// statistics and a few runtime settings), in l402's words.
type goFamily struct {
	name, typ, help string
	value           func(ms *runtime.MemStats) float64
}

// goFamilies are the Go collector's families other than
// go_gc_duration_seconds and go_info, read at each scrape.
var goFamilies = []goFamily{
	{"go_gc_gogc_percent", "gauge",
		"The garbage collector's target heap growth, in percent (GOGC; " +
			"-1 when off).", func(*runtime.MemStats) float64 { return gogc() }},
	{"go_gc_gomemlimit_bytes", "gauge",
		"The runtime's soft memory limit (GOMEMLIMIT), in bytes.",
		func(*runtime.MemStats) float64 {
			return float64(debug.SetMemoryLimit(-1))
		}},
	{"go_goroutines", "gauge", "Goroutines that exist now.",
		func(*runtime.MemStats) float64 {
			return float64(runtime.NumGoroutine())
		}},
	{"go_memstats_alloc_bytes", "gauge",
		"Bytes of heap objects allocated and not yet freed.",
		func(ms *runtime.MemStats) float64 { return float64(ms.Alloc) }},
	{"go_memstats_alloc_bytes_total", "counter",
		"Bytes of heap objects allocated, freed ones included.",
		func(ms *runtime.MemStats) float64 { return float64(ms.TotalAlloc) }},
	{"go_memstats_buck_hash_sys_bytes", "gauge",
		"Bytes of the profiling bucket hash table.",
		func(ms *runtime.MemStats) float64 { return float64(ms.BuckHashSys) }},
	{"go_memstats_frees_total", "counter", "Heap objects freed.",
		func(ms *runtime.MemStats) float64 { return float64(ms.Frees) }},
	{"go_memstats_gc_sys_bytes", "gauge",
		"Bytes of the garbage collector's metadata.",
		func(ms *runtime.MemStats) float64 { return float64(ms.GCSys) }},
	{"go_memstats_heap_alloc_bytes", "gauge",
		"Bytes of heap objects allocated and not yet freed (as " +
			"go_memstats_alloc_bytes).",
		func(ms *runtime.MemStats) float64 { return float64(ms.HeapAlloc) }},
	{"go_memstats_heap_idle_bytes", "gauge",
		"Bytes of heap spans holding no object.",
		func(ms *runtime.MemStats) float64 { return float64(ms.HeapIdle) }},
	{"go_memstats_heap_inuse_bytes", "gauge",
		"Bytes of heap spans holding at least one object.",
		func(ms *runtime.MemStats) float64 { return float64(ms.HeapInuse) }},
	{"go_memstats_heap_objects", "gauge",
		"Heap objects allocated and not yet freed.",
		func(ms *runtime.MemStats) float64 { return float64(ms.HeapObjects) }},
	{"go_memstats_heap_released_bytes", "gauge",
		"Bytes of heap memory returned to the operating system.",
		func(ms *runtime.MemStats) float64 { return float64(ms.HeapReleased) }},
	{"go_memstats_heap_sys_bytes", "gauge",
		"Bytes of heap memory obtained from the operating system.",
		func(ms *runtime.MemStats) float64 { return float64(ms.HeapSys) }},
	{"go_memstats_last_gc_time_seconds", "gauge",
		"When the last garbage collection ended, in seconds since the " +
			"Unix epoch (0: none yet).",
		func(ms *runtime.MemStats) float64 {
			return float64(ms.LastGC) / float64(time.Second)
		}},
	{"go_memstats_mallocs_total", "counter", "Heap objects allocated.",
		func(ms *runtime.MemStats) float64 { return float64(ms.Mallocs) }},
	{"go_memstats_mcache_inuse_bytes", "gauge",
		"Bytes of mcache structures in use.",
		func(ms *runtime.MemStats) float64 { return float64(ms.MCacheInuse) }},
	{"go_memstats_mcache_sys_bytes", "gauge",
		"Bytes of memory obtained from the operating system for mcache " +
			"structures.",
		func(ms *runtime.MemStats) float64 { return float64(ms.MCacheSys) }},
	{"go_memstats_mspan_inuse_bytes", "gauge",
		"Bytes of mspan structures in use.",
		func(ms *runtime.MemStats) float64 { return float64(ms.MSpanInuse) }},
	{"go_memstats_mspan_sys_bytes", "gauge",
		"Bytes of memory obtained from the operating system for mspan " +
			"structures.",
		func(ms *runtime.MemStats) float64 { return float64(ms.MSpanSys) }},
	{"go_memstats_next_gc_bytes", "gauge",
		"The heap size the next garbage collection aims at, in bytes.",
		func(ms *runtime.MemStats) float64 { return float64(ms.NextGC) }},
	{"go_memstats_other_sys_bytes", "gauge",
		"Bytes of other runtime allocations from the operating system.",
		func(ms *runtime.MemStats) float64 { return float64(ms.OtherSys) }},
	{"go_memstats_stack_inuse_bytes", "gauge",
		"Bytes of stack spans in use.",
		func(ms *runtime.MemStats) float64 { return float64(ms.StackInuse) }},
	{"go_memstats_stack_sys_bytes", "gauge",
		"Bytes of stack memory obtained from the operating system.",
		func(ms *runtime.MemStats) float64 { return float64(ms.StackSys) }},
	{"go_memstats_sys_bytes", "gauge",
		"Bytes of memory obtained from the operating system in all.",
		func(ms *runtime.MemStats) float64 { return float64(ms.Sys) }},
	{"go_sched_gomaxprocs_threads", "gauge",
		"GOMAXPROCS: the threads that may run Go code at once.",
		func(*runtime.MemStats) float64 {
			return float64(runtime.GOMAXPROCS(0))
		}},
	{"go_threads", "gauge", "Operating system threads the runtime created.",
		func(*runtime.MemStats) float64 {
			n, _ := runtime.ThreadCreateProfile(nil)
			return float64(n)
		}},
}

const (
	gcDurationName = "go_gc_duration_seconds"
	gcDurationHelp = "Stop-the-world pauses of the garbage collector, in " +
		"seconds: quantiles of the recent ones, their sum and count."
	goInfoName = "go_info"
	goInfoHelp = "The Go version the binary was built with, in its label."
)

// goCollector reads the Go runtime's families at each scrape: one
// runtime.ReadMemStats and one debug.ReadGCStats a scrape, nothing
// before.
type goCollector struct{}

// GoCollector returns the collector of the Go runtime families
// (go_goroutines, go_memstats_*, go_gc_duration_seconds, ...) that
// Prometheus' Go client registers by default.
func GoCollector() Collector {
	return goCollector{}
}

// names implements Collector.
func (goCollector) names() []string {
	n := []string{gcDurationName, goInfoName}
	for _, f := range goFamilies {
		n = append(n, f.name)
	}
	return n
}

// collect implements Collector.
func (goCollector) collect(fs []family) []family {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	for _, f := range goFamilies {
		fs = append(fs, family{name: f.name, help: f.help, typ: f.typ,
			samples: appendSample(nil, f.name, "", "", "", f.value(&ms))})
	}
	info := appendLabelValue([]byte(`version="`), runtime.Version())
	fs = append(fs, family{name: goInfoName, help: goInfoHelp, typ: "gauge",
		samples: appendSample(nil, goInfoName, "", string(info)+`"`, "", 1)})
	return append(fs, gcDurations())
}

// gcDurations is go_gc_duration_seconds, a summary: the minimum, the
// quartiles and the maximum of the recent pauses (debug.ReadGCStats'),
// the total pause and the number of collections.
func gcDurations() family {
	var st debug.GCStats
	st.PauseQuantiles = make([]time.Duration, 5)
	debug.ReadGCStats(&st)
	var b []byte
	for i, q := range st.PauseQuantiles {
		b = appendSample(b, gcDurationName, "", "",
			`quantile="`+string(appendFloat(nil, float64(i)/4))+`"`,
			q.Seconds())
	}
	b = appendSample(b, gcDurationName, "_sum", "", "",
		st.PauseTotal.Seconds())
	b = appendSample(b, gcDurationName, "_count", "", "", float64(st.NumGC))
	return family{name: gcDurationName, help: gcDurationHelp,
		typ: "summary", samples: b}
}

// gogc is the garbage collector's GOGC percent as the runtime read it
// from the environment at start (100 unset or unreadable, -1 off or
// negative). l402
// never calls debug.SetGCPercent, and reading the setting through it
// would change it.
func gogc() float64 {
	v := os.Getenv("GOGC")
	if v == "off" {
		return -1
	}
	if n, err := strconv.ParseInt(v, 10, 32); err == nil {
		return float64(max(n, -1))
	}
	return 100
}
