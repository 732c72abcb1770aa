"""Stand-ins the tests and the offline demo (`scenegan demo`) run against, not part of the pipeline.

flickr_standin: a local HTTP server on 127.0.0.1 that answers like Flickr's REST API and video
hosts. synthetic: procedural scenery videos for it to serve. i3d_reference: the fixed input the
I3D port is checked on against the original JAX model. Nothing in scenegan/pipeline or
scenegan/model imports from here.
"""
