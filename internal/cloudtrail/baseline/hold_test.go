package baseline

import (
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

func holdForTest(path string, d time.Duration) {
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	fmt.Print("held")
	time.Sleep(d)
}
