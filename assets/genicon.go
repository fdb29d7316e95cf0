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
	draw("assets/icon.png", color.NRGBA{0x1f, 0x6f, 0x8b, 0xff}, color.NRGBA{})
	// Tray moods: a dot in the corner says how the pool is doing.
	draw("assets/tray_ok.png", color.NRGBA{0x1f, 0x6f, 0x8b, 0xff}, color.NRGBA{0x3c, 0xc8, 0x6e, 0xff})
	draw("assets/tray_warn.png", color.NRGBA{0x1f, 0x6f, 0x8b, 0xff}, color.NRGBA{0xf2, 0xa9, 0x1b, 0xff})
	draw("assets/tray_down.png", color.NRGBA{0x1f, 0x6f, 0x8b, 0xff}, color.NRGBA{0xe0, 0x3c, 0x31, 0xff})
	draw("assets/tray_paused.png", color.NRGBA{0x6b, 0x72, 0x78, 0xff}, color.NRGBA{})
}

func draw(path string, bg, dot color.NRGBA) {
	const n = 256
	img := image.NewNRGBA(image.Rect(0, 0, n, n))
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
			if dot.A != 0 && math.Hypot(fx-204, fy-52) < 40 {
				c = dot
			}
			img.Set(x, y, c)
		}
	}
	f, err := os.Create(path)
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
