package dev.vessel.devices.virtio.blk;

/**
 * virtio-blk protocol numbers (virtio 1.2 §5.2): feature bits, request types, status codes and the
 * offsets of {@code struct virtio_blk_config}.
 */
public final class VirtioBlk {
    private VirtioBlk() {}

    /** Bytes per sector: the protocol's unit for {@code sector}, {@code capacity} and lengths. */
    public static final int SECTOR_SIZE = 512;
    /** Bytes of the request header: le32 type, le32 reserved, le64 sector. */
    public static final int HEADER_SIZE = 16;
    /** Bytes of one discard / write-zeroes segment: le64 sector, le32 num_sectors, le32 flags. */
    public static final int SEGMENT_SIZE = 16;
    /** Bytes of the device ID string that GET_ID returns (NUL-padded ASCII, no NUL if 20 long). */
    public static final int ID_BYTES = 20;

    // Feature bits.
    public static final int F_SIZE_MAX = 1;
    public static final int F_SEG_MAX = 2;
    public static final int F_GEOMETRY = 4;
    public static final int F_RO = 5;
    public static final int F_BLK_SIZE = 6;
    public static final int F_FLUSH = 9;
    public static final int F_TOPOLOGY = 10;
    public static final int F_CONFIG_WCE = 11;
    public static final int F_MQ = 12;
    public static final int F_DISCARD = 13;
    public static final int F_WRITE_ZEROES = 14;
    public static final int F_LIFETIME = 15;
    public static final int F_SECURE_ERASE = 16;

    // Request types.
    public static final int T_IN = 0;
    public static final int T_OUT = 1;
    public static final int T_FLUSH = 4;
    public static final int T_GET_ID = 8;
    public static final int T_GET_LIFETIME = 10;
    public static final int T_DISCARD = 11;
    public static final int T_WRITE_ZEROES = 13;
    public static final int T_SECURE_ERASE = 14;

    // Status byte.
    public static final int S_OK = 0;
    public static final int S_IOERR = 1;
    public static final int S_UNSUPP = 2;

    /** Discard / write-zeroes segment flag: the device may deallocate (write zeroes only). */
    public static final int SEGMENT_F_UNMAP = 1;

    // struct virtio_blk_config offsets.
    public static final int CFG_CAPACITY = 0;
    public static final int CFG_SIZE_MAX = 8;
    public static final int CFG_SEG_MAX = 12;
    public static final int CFG_GEOMETRY = 16;
    public static final int CFG_BLK_SIZE = 20;
    public static final int CFG_TOPOLOGY = 24;
    public static final int CFG_WRITEBACK = 32;
    public static final int CFG_NUM_QUEUES = 34;
    public static final int CFG_MAX_DISCARD_SECTORS = 36;
    public static final int CFG_MAX_DISCARD_SEG = 40;
    public static final int CFG_DISCARD_SECTOR_ALIGNMENT = 44;
    public static final int CFG_MAX_WRITE_ZEROES_SECTORS = 48;
    public static final int CFG_MAX_WRITE_ZEROES_SEG = 52;
    public static final int CFG_WRITE_ZEROES_MAY_UNMAP = 56;
    /** The configuration space up to and including {@code unused1} (secure erase and zoned fields left out). */
    public static final int CONFIG_SIZE = 60;
}
