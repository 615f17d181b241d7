package serve

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/l402/l402/internal/prices"
)

// Pricer prices a request for a dynamically priced service, in sats;
// zero means the request is free.
type Pricer interface {
	Price(ctx context.Context, r *http.Request) (int64, error)
	Close() error
}

// dialPrices connects to an Aperture pricesrpc server. A zero price is
// passed on as free access, as Aperture does.
func dialPrices(c DynamicPriceConfig) (Pricer, error) {
	client, err := prices.Dial(prices.Config{Address: c.GRPCAddress,
		Insecure: c.Insecure, TLSCertPath: c.TLSCertPath})
	if err != nil {
		return nil, err
	}
	return zeroIsFree{client}, nil
}

// zeroIsFree turns the price client's zero-price error into a zero price.
type zeroIsFree struct{ *prices.Client }

// Price implements Pricer.
func (z zeroIsFree) Price(ctx context.Context, r *http.Request) (int64,
	error) {

	p, err := z.Client.Price(ctx, r)
	if errors.Is(err, prices.ErrZeroPrice) {
		return 0, nil
	}
	return p, err
}

// resourceOf is what a dynamically priced token is bound to: the path,
// escaped as sent, and the query, both of which the price server sees.
func resourceOf(u *url.URL) string {
	if u.RawQuery == "" {
		return u.EscapedPath()
	}
	return u.EscapedPath() + "?" + u.RawQuery
}
