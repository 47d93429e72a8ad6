"""Images: references, content store, metadata, registries, transports and the copy pipeline.

How the engine uses it (engine/images.py wraps one :class:`skiff.image.service.ImageService`)::

    from skiff.image.service import ImageService
    from skiff.image.unpack import SnapshotUnpacker
    from skiff.image.registry.auth import parse_registry_auth

    images = ImageService(data_root / "image", SnapshotUnpacker(snapshotter),
                          insecure_registries=config["insecure-registries"],
                          is_running=lambda cid: containers.is_running(cid),
                          graph_driver=lambda rec: {"Name": "overlay2", "Data": {...}},
                          certs_dir=Path("/etc/docker/certs.d"))   # <host:port>/ca.crt, client.cert/.key
    system.add_disk_usage_source(images)      # .disk_usage(types)
    system.add_info_source(images)            # .info_fields() -> {"Images": n}

Verbs (errors are skiff.errors subclasses with Docker's texts; streams yield Docker JSON messages
and raise the operation's error at the end, which api/streams.py turns into ``errorDetail``):

* POST /images/create?fromImage=&tag=&platform=  ->  ``images.pull(from_image, tag, platform=...,
  auth=parse_registry_auth(request.headers.get("X-Registry-Auth")), all_tags=not tag)``:
  AsyncIterator[dict]. Errors found before the first message (bad reference, manifest unknown,
  pull access denied, no matching platform) raise from the first ``__anext__``, so the handler can
  still answer with the error's status, as dockerd does; later ones arrive after messages.
* POST /images/create?fromSrc=-|URL&repo=&tag=&message=&changes=  ->  ``await images.import_image(
  stream, repo=, tag=, message=, config=ContainerConfig(...from the parsed --change...),
  platform=)``: ImageRecord; stream ``{"status": str(record.id)}``. (URL download is the API's job.)
* POST /images/{name}/push?tag=  ->  ``images.push(name, tag, auth=...)``: AsyncIterator[dict]
  (last messages: ``"<tag>: digest: sha256:... size: N"`` and ``{"aux": {"Tag","Digest","Size"}}``).
* POST /images/{name}/tag?repo=&tag=  ->  ``images.tag(name, f"{repo}:{tag}")`` (201).
* DELETE /images/{name}?force=&noprune=  ->  ``images.remove(name, force, noprune)``: list of
  ``{"Untagged": ...}`` / ``{"Deleted": ...}``; ImageInUse (Conflict, 409) with Docker's texts.
* GET /images/json?all=&filters=&shared-size=&digests=  ->  ``images.list_images(all=, filters=
  {k: f.get(k) for k in f.keys()}, shared_size=)``; add ``VirtualSize`` (= Size) for API < 1.44.
* GET /images/{name}/json  ->  ``images.inspect(name)``;  GET /images/{name}/history  ->
  ``images.history(name)``.
* GET /images/get?names=  and  GET /images/{name}/get  ->  ``images.save(names)``:
  AsyncIterator[bytes] (application/x-tar).
* POST /images/load?quiet=  ->  ``images.load(request_body_async_iterable)``: AsyncIterator of
  ``{"stream": "Loaded image: busybox:latest\\n"}``.
* POST /images/prune?filters=  ->  ``images.prune(filters)``: {"ImagesDeleted", "SpaceReclaimed"}.
* POST /commit and the builder's ``BuildBackend.commit(config, history, workspace)``  ->
  ``images.commit(config, diff_tar_or_None, history=history, refs=[...], parent=...,
  snapshot_key=workspace_snapshot_key)`` (blocking, thread-safe): the layers of
  ``config.diff_ids`` are found by chain ID, the diff tar (storage ``write_diff`` of the workspace)
  becomes the new gzip layer blob, and the workspace's active snapshot is committed as that layer
  (unmount it first; it is gone afterwards). ``BuildBackend.get_image(id)`` ->
  ``images.images.get(id)`` + ``images.config_of(record)``; ``resolve_image`` -> ``resolve`` or
  ``pull_into``; ``tag`` -> ``images.tag(id, ref).familiar``.
* docker export  ->  ``skiff.image.create.export_rootfs(mounted_rootfs, out)``.

Containers: ``images.resolve(ref)`` -> ImageRecord (``.id``); ``images.config_of(record)`` ->
ImageConfig (Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Healthcheck...);
``images.rootfs_for(image_id).top_chain_id`` is the parent for ``snapshotter.prepare(container_id,
parent)``; call ``images.container_created(cid, image_id)`` on create and
``images.container_removed(cid)`` on remove, so rmi/prune never take an image in use.
"""
