// The socket address and the packet recorder are part of the media plane's API; they live in
// `PacketIO` so that the capture code can use them without linking the data plane.
@_exported import PacketIO
