package source

import (
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// refNameAnnotation names an image in an OCI layout's index, as
// containers/image and BuildKit write it.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// openLayout reads an OCI image layout directory. Its blobs are stored
// as a registry would hold them.
func openLayout(dir, ref string, opts Options) ([]*Image, error) {
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, err
	}
	return fromIndex(index, ref, opts, OCILayout, dir)
}

// fromIndex picks from an index the image ref names, or the one for the
// platform, or with opts.every each platform's. dir names the OCI layout
// the index is read from, whose blobs are then checked against their
// descriptors; "" for a registry's, which go-containerregistry checks.
func fromIndex(index v1.ImageIndex, ref string, opts Options, transport, dir string) ([]*Image, error) {
	var out []*Image
	if opts.every {
		var missing []string
		all, err := everyImage(index, ref, dir, &missing)
		if err != nil {
			return nil, err
		}
		if len(all) == 0 {
			return nil, fmt.Errorf("it holds none of the platforms its index lists (%s): their blobs are missing", strings.Join(missing, ", "))
		}
		if len(missing) > 0 {
			opts.warn("the index lists %s, whose blobs are not there (a docker save holds this machine's platform only); comparing the platforms that are", strings.Join(missing, ", "))
		}
		for _, p := range all {
			out = append(out, &Image{Image: p.img, Transport: transport, StoredSizes: true, Close: noop, Platform: p.platform})
		}
		return out, nil
	}
	img, err := pickImage(index, ref, opts.Platform, dir)
	if err != nil {
		return nil, err
	}
	return []*Image{{Image: img, Transport: transport, StoredSizes: true, Close: noop}}, nil
}

type platformImage struct {
	img      v1.Image
	platform string
}

// everyImage returns an image per platform of the image ref names, or of
// the index's only image; a single-platform image gives itself. A
// platform whose manifest or layers a layout does not hold is added to
// missing rather than returned.
func everyImage(index v1.ImageIndex, ref, dir string, missing *[]string) ([]platformImage, error) {
	m, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	entries := m.Manifests
	switch {
	case ref != "":
		found, err := byRef(index, entries, ref)
		if err != nil {
			return nil, err
		}
		entries = []v1.Descriptor{found}
	case len(entries) > 1 && !hasPlatforms(entries):
		return nil, fmt.Errorf("it holds %d images; name one as PATH:REF: %s", len(entries), listEntries(entries))
	}
	var out []platformImage
	for _, d := range entries {
		if attestation(d) {
			continue
		}
		if d.MediaType.IsIndex() {
			child, err := childIndex(index, d, dir)
			if err != nil {
				return nil, err
			}
			more, err := everyImage(child, "", dir, missing)
			if err != nil {
				return nil, err
			}
			out = append(out, more...)
			continue
		}
		p := ""
		if d.Platform != nil && len(entries) > 1 {
			p = d.Platform.String()
		}
		img, err := childImage(index, d, dir)
		if err == nil && dir != "" {
			_, err = img.Layers() // each layer's blob is there, of its size
		}
		if errors.Is(err, ErrMissing) {
			name := p
			if name == "" {
				name = d.Digest.String()
			}
			*missing = append(*missing, name)
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, platformImage{img, p})
	}
	if len(out) == 0 && len(*missing) == 0 {
		return nil, errors.New("it holds no image")
	}
	return out, nil
}

// pickImage picks one image from an index: the one ref names (a
// ref.name annotation, a digest or @N), its only one, or the one for the
// platform; an index it picks is searched the same way, by platform.
func pickImage(index v1.ImageIndex, ref string, platform *v1.Platform, dir string) (v1.Image, error) {
	m, err := index.IndexManifest()
	if err != nil {
		return nil, err
	}
	entries := m.Manifests
	if len(entries) == 0 {
		return nil, errors.New("it holds no image")
	}
	var pick v1.Descriptor
	switch {
	case ref != "":
		found, err := byRef(index, entries, ref)
		if err != nil {
			return nil, err
		}
		pick = found
	case len(entries) == 1:
		pick = entries[0]
	case hasPlatforms(entries):
		found, err := byPlatform(entries, platform)
		if err != nil {
			return nil, err
		}
		pick = found
	default:
		return nil, fmt.Errorf("it holds %d images; name one as PATH:REF: %s", len(entries), listEntries(entries))
	}
	if pick.MediaType.IsIndex() {
		child, err := childIndex(index, pick, dir)
		if err != nil {
			return nil, err
		}
		return pickImage(child, "", platform, dir)
	}
	if !pick.MediaType.IsImage() {
		return nil, fmt.Errorf("%s is a %s, not an image", pick.Digest, pick.MediaType)
	}
	return childImage(index, pick, dir)
}

// childImage is the image an index entry names, its blobs checked when
// the index is a layout's.
func childImage(index v1.ImageIndex, d v1.Descriptor, dir string) (v1.Image, error) {
	if dir != "" {
		if err := checkBlobFile(layoutBlob(dir), d, "manifest"); err != nil {
			return nil, err
		}
	}
	img, err := index.Image(d.Digest)
	if err != nil {
		return nil, err
	}
	if dir != "" {
		img = verify(img, d, dir)
	}
	if err := refuseAttestation(img, d.Digest.String()); err != nil {
		return nil, err
	}
	return img, nil
}

// childIndex is the index an index entry names, checked against the
// entry when the index is a layout's.
func childIndex(index v1.ImageIndex, d v1.Descriptor, dir string) (v1.ImageIndex, error) {
	if dir != "" {
		if err := checkBlobFile(layoutBlob(dir), d, "index"); err != nil {
			return nil, err
		}
	}
	child, err := index.ImageIndex(d.Digest)
	if err != nil || dir == "" {
		return child, err
	}
	raw, err := child.RawManifest()
	if err != nil {
		return nil, err
	}
	if err := checkBlob("index", raw, d); err != nil {
		return nil, err
	}
	return child, nil
}

// byRef picks the entry ref names: @N, a ref.name annotation or a
// digest. An index of one index, as BuildKit writes a layout (the image's
// index holds its platforms and their attestations), is searched inside
// too, so that @1 or a platform's digest names what the image holds. An
// attestation is refused: it is no image.
func byRef(index v1.ImageIndex, entries []v1.Descriptor, ref string) (v1.Descriptor, error) {
	found, err := matchRef(entries, ref)
	if err != nil && len(entries) == 1 && entries[0].MediaType.IsIndex() {
		if child, cerr := index.ImageIndex(entries[0].Digest); cerr == nil {
			if m, cerr := child.IndexManifest(); cerr == nil {
				if inner, ierr := matchRef(m.Manifests, ref); ierr == nil {
					found, err, entries = inner, nil, m.Manifests
				}
			}
		}
	}
	if err != nil {
		return v1.Descriptor{}, err
	}
	if attestation(found) {
		var images []v1.Descriptor
		for _, d := range entries {
			if !attestation(d) {
				images = append(images, d)
			}
		}
		of := found.Annotations["vnd.docker.reference.digest"]
		if of == "" {
			of = "an image"
		}
		return v1.Descriptor{}, fmt.Errorf("%q is an attestation manifest (provenance or SBOM) of %s, not an image; the images: %s", ref, of, listEntries(images))
	}
	return found, nil
}

func matchRef(entries []v1.Descriptor, ref string) (v1.Descriptor, error) {
	if n, ok := position(ref, len(entries)); ok {
		return entries[n], nil
	}
	var found []v1.Descriptor
	for _, d := range entries {
		if d.Annotations[refNameAnnotation] == ref || d.Digest.String() == ref ||
			strings.HasPrefix(ref, "sha256:") && len(ref) >= 19 && strings.HasPrefix(d.Digest.String(), ref) {
			found = append(found, d)
		}
	}
	if len(found) != 1 {
		return v1.Descriptor{}, fmt.Errorf("%d images match %q; it holds: %s", len(found), ref, listEntries(entries))
	}
	return found[0], nil
}

// hasPlatforms reports whether the entries are the platforms of one
// image: each has a platform, and they share their ref name if any.
func hasPlatforms(entries []v1.Descriptor) bool {
	name := ""
	for _, d := range entries {
		if attestation(d) {
			continue
		}
		if d.Platform == nil {
			return false
		}
		n := d.Annotations[refNameAnnotation]
		if name != "" && n != "" && n != name {
			return false
		}
		if n != "" {
			name = n
		}
	}
	return true
}

// attestation reports whether an entry is BuildKit's attestation manifest
// (provenance, SBOM) rather than an image to run.
func attestation(d v1.Descriptor) bool {
	return d.Annotations["vnd.docker.reference.type"] == "attestation-manifest" ||
		d.Platform != nil && d.Platform.OS == "unknown" && d.Platform.Architecture == "unknown"
}

// byPlatform picks the entry for the platform, or for the default ones.
func byPlatform(entries []v1.Descriptor, platform *v1.Platform) (v1.Descriptor, error) {
	wanted := DefaultPlatforms()
	if platform != nil {
		wanted = []v1.Platform{*platform}
	}
	var have []string
	for _, d := range entries {
		if d.Platform != nil && !attestation(d) {
			have = append(have, d.Platform.String())
		}
	}
	for _, w := range wanted {
		for _, d := range entries {
			if d.Platform != nil && !attestation(d) && d.Platform.Satisfies(w) {
				return d, nil
			}
		}
	}
	var names []string
	for _, w := range wanted {
		names = append(names, w.String())
	}
	return v1.Descriptor{}, fmt.Errorf("no image for %s; platforms: %s (choose with --platform)", strings.Join(names, " or "), strings.Join(have, ", "))
}

func listEntries(entries []v1.Descriptor) string {
	var parts []string
	for i, d := range entries {
		desc := d.Digest.String()
		if len(desc) > 19 {
			desc = desc[:19]
		}
		if n := d.Annotations[refNameAnnotation]; n != "" {
			desc = n + " " + desc
		}
		if d.Platform != nil {
			desc += " " + d.Platform.String()
		}
		parts = append(parts, fmt.Sprintf("@%d %s", i, desc))
	}
	return strings.Join(parts, "; ")
}
