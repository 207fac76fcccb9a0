// Package s3 keeps message data in an S3-compatible object store (AWS S3,
// MinIO, Ceph RGW, SeaweedFS, Garage, versitygw), one object per datum,
// named by the storage engine. It is a package of its own, beside the
// engines rather than inside one, because the object store is chosen
// separately from the database (-object-store) and its client, minio-go,
// should be linked only where it is used.
//
// Credentials come only from minio-go's standard chain, the environment
// (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY) and then the AWS credentials
// file; never from the URL. No error or log line of this package carries
// them: minio-go's errors name the bucket, the object and the server's
// message, not the keys.
package s3

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strings"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/ringd/ringd/internal/blob"
)

// Store is one bucket of an object store.
type Store struct {
	client   *minio.Client
	bucket   string
	endpoint string // host:port, for messages
}

// Config is what an object store URL says:
// s3://BUCKET?endpoint=http://HOST:PORT&region=R. Without an endpoint it is
// AWS S3 (https://s3.amazonaws.com).
type Config struct {
	Bucket   string
	Endpoint string // host:port
	Secure   bool   // https
	Region   string
}

// ParseURL reads an object store URL.
func ParseURL(raw string) (Config, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Config{}, fmt.Errorf("object store URL: %w", err)
	}
	if u.Scheme != "s3" || u.Host == "" {
		return Config{}, errors.New("object store URL: want s3://BUCKET?endpoint=http://HOST:PORT&region=R")
	}
	if u.User != nil {
		return Config{}, errors.New("object store URL: credentials do not go in the URL; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	}
	if u.Path != "" && u.Path != "/" {
		return Config{}, fmt.Errorf("object store URL: a path (%q) is not supported; name the bucket alone", u.Path)
	}
	c := Config{Bucket: u.Host, Endpoint: "s3.amazonaws.com", Secure: true, Region: u.Query().Get("region")}
	for k := range u.Query() {
		if k != "endpoint" && k != "region" {
			return Config{}, fmt.Errorf("object store URL: unknown parameter %q", k)
		}
	}
	if ep := u.Query().Get("endpoint"); ep != "" {
		e, err := url.Parse(ep)
		if err != nil || (e.Scheme != "http" && e.Scheme != "https") || e.Host == "" || (e.Path != "" && e.Path != "/") {
			return Config{}, fmt.Errorf("object store URL: endpoint %q is not http(s)://HOST[:PORT]", ep)
		}
		if e.User != nil {
			return Config{}, errors.New("object store URL: credentials do not go in the endpoint")
		}
		c.Endpoint, c.Secure = e.Host, e.Scheme == "https"
	}
	return c, nil
}

// openTimeout bounds Open's check that the bucket is there.
const openTimeout = 15 * time.Second

// Open connects to the bucket of an object store URL and checks that it
// exists and answers to the credentials: a bucket that cannot be reached,
// refuses them, or does not exist fails here, not at the first send.
func Open(ctx context.Context, rawURL string) (*Store, error) {
	c, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	creds := credentials.NewChainCredentials([]credentials.Provider{
		&credentials.EnvAWS{},
		&credentials.FileAWSCredentials{},
	})
	client, err := minio.New(c.Endpoint, &minio.Options{
		Creds:  creds,
		Secure: c.Secure,
		Region: c.Region,
		// A few tries ride out a blip; a server that is down fails Open
		// in seconds rather than after minio-go's ten.
		MaxRetries: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("object store %s: %w", c.Endpoint, err)
	}
	s := &Store{client: client, bucket: c.Bucket, endpoint: c.Endpoint}
	ctx, cancel := context.WithTimeout(ctx, openTimeout)
	defer cancel()
	ok, err := client.BucketExists(ctx, c.Bucket)
	if err != nil {
		return nil, fmt.Errorf("object store: cannot use bucket %q at %s: %w", c.Bucket, c.Endpoint, err)
	}
	if !ok {
		return nil, fmt.Errorf("object store: bucket %q does not exist at %s", c.Bucket, c.Endpoint)
	}
	return s, nil
}

// Put stores exactly size bytes of r as name, streaming them. The object
// exists, whole, once Put returns nil; on an error it does not.
func (s *Store) Put(ctx context.Context, name string, r io.Reader, size int64) error {
	info, err := s.client.PutObject(ctx, s.bucket, name, r, size, minio.PutObjectOptions{
		ContentType: "application/octet-stream",
	})
	if err != nil {
		return fmt.Errorf("object store: put %s: %w", name, err)
	}
	if info.Size != size {
		return fmt.Errorf("object store: put %s: stored %d bytes of %d", name, info.Size, size)
	}
	return nil
}

// Open returns n bytes of name from offset on (to its end when n < 0).
// An object that does not exist is blob.ErrNotFound.
func (s *Store) Open(ctx context.Context, name string, offset, n int64) (io.ReadCloser, error) {
	if offset < 0 {
		return nil, fmt.Errorf("object store: open %s: negative offset %d", name, offset)
	}
	if n == 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	var opts minio.GetObjectOptions
	var err error
	switch {
	case n > 0:
		err = opts.SetRange(offset, offset+n-1)
	case offset > 0:
		err = opts.SetRange(offset, 0)
	}
	if err != nil {
		return nil, fmt.Errorf("object store: open %s: %w", name, err)
	}
	obj, err := s.client.GetObject(ctx, s.bucket, name, opts)
	if err != nil {
		return nil, s.objectErr("open", name, err)
	}
	// GetObject is lazy: Stat makes the request, so that a missing object
	// is an error here rather than at the first read.
	if _, err := obj.Stat(); err != nil {
		obj.Close()
		return nil, s.objectErr("open", name, err)
	}
	return obj, nil
}

// objectErr names what failed, mapping a missing object to
// blob.ErrNotFound.
func (s *Store) objectErr(op, name string, err error) error {
	if minio.ToErrorResponse(err).Code == minio.NoSuchKey {
		return fmt.Errorf("object store: %s %s: %w", op, name, blob.ErrNotFound)
	}
	return fmt.Errorf("object store: %s %s: %w", op, name, err)
}

// Delete removes name; removing what is not there is no error.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := s.client.RemoveObject(ctx, s.bucket, name, minio.RemoveObjectOptions{}); err != nil {
		return s.objectErr("delete", name, err)
	}
	return nil
}

// Object is an object as a listing sees it.
type Object struct {
	Name     string
	Size     int64
	Modified time.Time
}

// ListOlder yields the objects last written before before, for a sweep of
// data no record refers to: an object younger than its grace may belong
// to a send whose record is not committed yet. It stops at the first
// error, which it yields.
func (s *Store) ListOlder(ctx context.Context, before time.Time) iter.Seq2[Object, error] {
	return func(yield func(Object, error) bool) {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel() // ends the listing when yield stops early
		for info := range s.client.ListObjects(ctx, s.bucket, minio.ListObjectsOptions{Recursive: true}) {
			if info.Err != nil {
				yield(Object{}, fmt.Errorf("object store: list bucket %q: %w", s.bucket, info.Err))
				return
			}
			if !info.LastModified.Before(before) {
				continue
			}
			if !yield(Object{Name: info.Key, Size: info.Size, Modified: info.LastModified}, nil) {
				return
			}
		}
	}
}

// String names the store without its credentials.
func (s *Store) String() string { return "s3://" + s.bucket + " at " + s.endpoint }
