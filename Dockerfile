# weft's container image: a static weft on distroless, run as a non-root
# user, serving the folder mounted at /site on port 8080.
#
#   docker build --build-arg VERSION=$(git describe --tags --always) -t weft .
#   docker run --rm -p 8080:8080 -v "$PWD":/site:ro weft
#   docker run --rm -p 8080:8080 -v "$PWD":/site:ro weft --listing --spa index.html
#   docker run --rm -p 8080:8080 -v "$PWD":/site:ro -v "$PWD/../weft.toml":/etc/weft.toml:ro \
#       -e WEFT_CONFIG=/etc/weft.toml weft
#
# Arguments after the image name are serve's flags (they replace CMD).

FROM golang:1.26 AS build
ARG VERSION=""
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN sh contrib/build-static.sh /out/weft "$VERSION"

# distroless/static: CA certificates (ACME, OCSP), /etc/passwd with the
# nonroot user, a writable /tmp (a packed or sample site is extracted
# there), and no shell.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/weft /usr/local/bin/weft
USER 65532:65532
# Every flag is also a WEFT_* variable: these are the image's defaults,
# which flags given to docker run override.
# The working folder stays the image's own (not /site), so that a
# weft.toml in the served folder is neither read as the configuration nor
# mistaken for it: mount one elsewhere and name it with WEFT_CONFIG.
ENV WEFT_ADDR=0.0.0.0:8080 \
    WEFT_ROOT=/site
EXPOSE 8080
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/weft", "serve"]
CMD []
