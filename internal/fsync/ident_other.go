//go:build !linux

package fsync

import "os"

// identity is what os.SameFile compares, from a plain stat: elsewhere
// there is no portable stat without times.
type identity struct{ fi os.FileInfo }

func (a identity) same(b identity) bool {
	return a.fi != nil && b.fi != nil && os.SameFile(a.fi, b.fi)
}

func identityOf(path string) (identity, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return identity{}, unwrap(err)
	}
	return identity{fi}, nil
}

func identityOfFile(f *os.File) (identity, error) {
	fi, err := f.Stat()
	if err != nil {
		return identity{}, unwrap(err)
	}
	return identity{fi}, nil
}

// unwrap drops os.Stat's PathError, which IdentityOf adds back.
func unwrap(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
