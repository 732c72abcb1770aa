"""Acquisition and preprocessing: Flickr search, download, manifest, decode, clips, shards."""
