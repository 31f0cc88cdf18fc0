// Package dataset makes the paper's workload data: review-like text records in the style
// of the Amazon Fine Food Reviews dataset, split into the paper's chunk sets (objects of
// 10, 20, 50, 100 and 200 MB; the 1 GB workload is 100 × 10 MB). Objects are generated
// once, deterministically from a seed, into a cache under the state dir with a manifest
// of sizes and SHA-256 checksums, and placed into the object store's bucket directory
// as hard links: no copy, whatever the number of buckets.
package dataset

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"io"
	"math/rand/v2"
	"strconv"
)

// Record format: one review per line, tab-separated, so that a workload counts records by
// lines and words by whitespace:
//
//	productId \t userId \t score \t summary \t text \n
//
// e.g. "B001E4KFG0\tA3SGXH7AUHU8GW\t5\tGood quality dog food\tI have bought several ...\n".

// vocabulary is the word list the text is drawn from (food-review flavoured).
var vocabulary = []string{
	"the", "a", "and", "this", "is", "it", "for", "of", "to", "was", "my", "in", "with",
	"taste", "flavor", "product", "coffee", "tea", "dog", "food", "great", "good", "love",
	"best", "price", "amazon", "buy", "bought", "would", "like", "sweet", "chocolate",
	"these", "box", "order", "delicious", "healthy", "snack", "bag", "cookies", "sugar",
	"recommend", "really", "not", "but", "very", "just", "one", "they", "them", "are",
	"have", "so", "all", "can", "will", "more", "than", "also", "much", "better", "only",
	"cup", "little", "fresh", "store", "water", "treats", "organic", "mix", "salt", "milk",
	"hot", "strong", "bitter", "smooth", "quality", "package", "arrived", "shipping",
}

var summaries = []string{
	"Good quality", "Not as advertised", "Delicious", "Great taffy", "Nice taffy",
	"Cough medicine", "Yay barley", "Healthy dog food", "The best hot sauce",
	"My cats love it", "Great price", "Disappointed", "Wonderful tea", "Too sweet",
}

// seedFor makes each object's seed from the set and its index, so objects are
// independent: generating object 57 never needs 0–56.
func seedFor(set string, index int) uint64 {
	h := fnv.New64a()
	io.WriteString(h, "faaslab-dataset-v1/"+set+"/"+strconv.Itoa(index))
	return h.Sum64()
}

// Generate writes exactly size bytes of whole records (the last one's text is cut to fit
// and still ends in a newline) from seed to w and returns the content's SHA-256 (hex) and
// the record count.
func Generate(w io.Writer, size int64, seed uint64) (sum string, records int64, err error) {
	h := sha256.New()
	bw := bufio.NewWriterSize(io.MultiWriter(w, h), 256<<10)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	var line []byte
	var written int64
	for written < size {
		line = appendRecord(line[:0], rng)
		if rest := size - written; int64(len(line)) > rest {
			line = line[:rest]
			line[len(line)-1] = '\n'
		}
		if _, err := bw.Write(line); err != nil {
			return "", records, err
		}
		written += int64(len(line))
		records++
	}
	if err := bw.Flush(); err != nil {
		return "", records, err
	}
	return hex.EncodeToString(h.Sum(nil)), records, nil
}

const idChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

func appendRecord(b []byte, rng *rand.Rand) []byte {
	b = append(b, 'B', '0', '0')
	b = appendID(b, rng, 7)
	b = append(b, '\t', 'A')
	b = appendID(b, rng, 13)
	b = append(b, '\t', byte('1'+rng.IntN(5)), '\t')
	b = append(b, summaries[rng.IntN(len(summaries))]...)
	b = append(b, '\t')
	// Reviews run from a sentence to a few paragraphs (the original's median is ~60 words).
	words := 10 + rng.IntN(140)
	for i := range words {
		if i > 0 {
			b = append(b, ' ')
		}
		b = append(b, vocabulary[rng.IntN(len(vocabulary))]...)
	}
	return append(b, '.', '\n')
}

func appendID(b []byte, rng *rand.Rand, n int) []byte {
	for range n {
		b = append(b, idChars[rng.IntN(len(idChars))])
	}
	return b
}

// Set is one chunk set of the paper.
type Set struct {
	Name         string
	ObjectBytes  int64
	DefaultCount int // the default total is 1 GB per set: 100 × 10 MB, …, 5 × 200 MB
}

// MB is the paper's (and the handlers') megabyte: 10^6 bytes.
const MB = 1_000_000

// Sets are the paper's chunk sizes.
func Sets() []Set {
	return []Set{
		{"10mb", 10 * MB, 100},
		{"20mb", 20 * MB, 50},
		{"50mb", 50 * MB, 20},
		{"100mb", 100 * MB, 10},
		{"200mb", 200 * MB, 5},
	}
}

// LookupSet finds a set by name.
func LookupSet(name string) (Set, error) {
	for _, s := range Sets() {
		if s.Name == name {
			return s, nil
		}
	}
	return Set{}, fmt.Errorf("data set %q: want one of 10mb, 20mb, 50mb, 100mb, 200mb", name)
}

// Key is object index's key in the bucket: SET/part-NNNNN.txt.
func Key(set string, index int) string { return fmt.Sprintf("%s/part-%05d.txt", set, index) }
