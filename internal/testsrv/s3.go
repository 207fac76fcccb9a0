package testsrv

import (
	"context"
	"errors"
	"go/build"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// S3Server is a running versitygw gateway with one empty bucket.
type S3Server struct {
	Endpoint  string // http://127.0.0.1:PORT
	Bucket    string
	AccessKey string
	SecretKey string
	Dir       string // the directory its posix backend keeps the buckets in
}

// URL is the server's bucket as an object store URL, s3://BUCKET?endpoint=…
func (s S3Server) URL() string {
	return "s3://" + s.Bucket + "?endpoint=" + s.Endpoint + "&region=us-east-1"
}

// S3 starts a versitygw gateway on a free port of 127.0.0.1, keeping its
// objects in a directory of t's, makes an empty bucket in it, and stops it
// at t's cleanup. The gateway is the binary versitygw in PATH or in
// $GOPATH/bin.
func S3(t testing.TB) (endpoint, bucket, accessKey, secretKey string) {
	t.Helper()
	s := StartS3(t)
	return s.Endpoint, s.Bucket, s.AccessKey, s.SecretKey
}

// StartS3 is S3, answering the whole server.
func StartS3(t testing.TB) S3Server {
	t.Helper()
	bin := versitygwPath()
	if bin == "" {
		missing(t, "no versitygw in PATH or $GOPATH/bin: install it with "+
			"`go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`")
		return S3Server{}
	}
	s := S3Server{
		Bucket:    "ringd-test",
		AccessKey: "ringdtest" + randomHex(6),
		SecretKey: randomHex(20),
		Dir:       t.TempDir(),
	}
	var err error
	// A port found free may be taken before the gateway binds it: try
	// another then.
	for range 3 {
		if s.Endpoint, err = startGateway(t, bin, s); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("versitygw: %v", err)
	}
	client, err := minio.New(strings.TrimPrefix(s.Endpoint, "http://"), &minio.Options{
		Creds:  credentials.NewStaticV4(s.AccessKey, s.SecretKey, ""),
		Region: "us-east-1",
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := client.MakeBucket(ctx, s.Bucket, minio.MakeBucketOptions{Region: "us-east-1"}); err != nil {
		t.Fatalf("make bucket on versitygw: %v", err)
	}
	return s
}

// versitygwPath finds the gateway's binary; "" when there is none.
func versitygwPath() string {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p
	}
	gopath := build.Default.GOPATH
	for _, dir := range filepath.SplitList(gopath) {
		p := filepath.Join(dir, "bin", "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p
		}
	}
	return ""
}

// startGateway runs the gateway for s on a free port and waits until it
// answers HTTP; t's cleanup stops it.
func startGateway(t testing.TB, bin string, s S3Server) (string, error) {
	addr, err := freeAddr()
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "--port", addr, "--quiet", "posix", s.Dir)
	cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return "", err
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	stop := func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-exited
		}
	}
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return "", errors.New("exited at start: " + out.String())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond); err == nil {
			c.Close()
			t.Cleanup(stop)
			return "http://" + addr, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", errors.New("did not answer within 15 s: " + out.String())
}

// freeAddr is a 127.0.0.1 address with a port nothing listens on now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port), nil
}
