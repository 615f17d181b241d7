package serve

import "sync"

// freebies counts the free requests each client IP has had, for a
// service with "auth: freebie N". The count never resets while serve
// runs, as in Aperture; once maxBuckets IPs are tracked, new IPs get no
// free requests rather than the map growing.
type freebies struct {
	per int

	mu   sync.Mutex
	used map[string]int
}

// newFreebies returns a counter allowing per free requests per IP.
func newFreebies(per int) *freebies {
	return &freebies{per: per, used: map[string]int{}}
}

// take uses one of ip's free requests, if any is left.
func (f *freebies) take(ip string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.used[ip]
	if !ok && len(f.used) >= maxBuckets {
		return false
	}
	if n >= f.per {
		return false
	}
	f.used[ip] = n + 1
	return true
}
