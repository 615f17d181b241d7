// Command bareproxy is the reference `make bench-load` measures l402
// serve against: a bare httputil.ReverseProxy to one backend, with an
// idle pool of 256 connections per host and nothing else, listening on
// plain HTTP (HTTP/1.1 and h2c) or TLS (HTTP/2 and HTTP/1.1).
package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	_ "net/http/pprof" // on -pprof's address only
	"net/url"
	"os"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	target := flag.String("target", "", "backend host:port")
	h2c := flag.Bool("h2c", false, "speak h2c (HTTP/2 without TLS) to the "+
		"backend, as to a gRPC server")
	cert := flag.String("cert", "", "TLS certificate (PEM); plain HTTP "+
		"without it")
	key := flag.String("key", "", "TLS key (PEM)")
	pprofAddr := flag.String("pprof", "", "serve net/http/pprof on this "+
		"address (for the harness's -cpuprofile)")
	flag.Parse()
	if *pprofAddr != "" {
		go func() { _ = http.ListenAndServe(*pprofAddr, nil) }()
	}
	if err := run(*listen, *target, *h2c, *cert, *key); err != nil {
		fmt.Fprintln(os.Stderr, "bareproxy:", err)
		os.Exit(1)
	}
}

// run serves until the process is killed. It prints "listening on ADDR"
// on stdout once it listens.
func run(listen, target string, h2c bool, cert, key string) error {
	if target == "" {
		return fmt.Errorf("-target is required")
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 256
	if h2c {
		t.Protocols = new(http.Protocols)
		t.Protocols.SetUnencryptedHTTP2(true)
	}
	p := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: "http",
		Host: target})
	p.Transport = t

	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: p}
	if cert == "" {
		srv.Protocols = new(http.Protocols)
		srv.Protocols.SetHTTP1(true)
		srv.Protocols.SetUnencryptedHTTP2(true)
	} else {
		pair, err := tls.LoadX509KeyPair(cert, key)
		if err != nil {
			return err
		}
		ln = tls.NewListener(ln, &tls.Config{
			Certificates: []tls.Certificate{pair},
			NextProtos:   []string{"h2", "http/1.1"},
		})
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	return srv.Serve(ln)
}
