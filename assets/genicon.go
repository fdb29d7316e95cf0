//go:build ignore

// genicon draws assets/icon.png: a key bow (ring) and blade on a rounded
// square. Run with: go run assets/genicon.go
package main

import (
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
)

func main() {
	const n = 256
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
	bg := color.NRGBA{0x1f, 0x6f, 0x8b, 0xff}
	fg := color.NRGBA{0xf4, 0xf1, 0xde, 0xff}
	for y := 0; y < n; y++ {
		for x := 0; x < n; x++ {
			if !inRounded(x, y, n, 48) {
				continue
			}
			c := bg
			fx, fy := float64(x), float64(y)
			// Ring of the key.
			d := math.Hypot(fx-88, fy-128)
			if d < 52 && d > 26 {
				c = fg
			}
			// Blade and teeth.
			if fy > 116 && fy < 140 && fx > 136 && fx < 212 {
				c = fg
			}
			if fx > 176 && fx < 192 && fy >= 140 && fy < 168 {
				c = fg
			}
			if fx > 198 && fx < 212 && fy >= 140 && fy < 160 {
				c = fg
			}
			img.Set(x, y, c)
		}
	}
	f, err := os.Create("assets/icon.png")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		panic(err)
	}
}

func inRounded(x, y, n, r int) bool {
	cx := min(max(x, r), n-1-r)
	cy := min(max(y, r), n-1-r)
	dx, dy := x-cx, y-cy
	return dx*dx+dy*dy <= r*r
}
