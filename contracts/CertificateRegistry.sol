// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.28;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {IERC4906} from "@openzeppelin/contracts/interfaces/IERC4906.sol";
import {IERC165} from "@openzeppelin/contracts/utils/introspection/IERC165.sol";
import {ERC721Packed} from "./ERC721Packed.sol";
import {CidV1} from "./CidV1.sol";

/**
 * @title CertificateRegistry
 * @notice ERC-721 media-authenticity certificates. A certificate binds the
 * sha256 of a media file to the sha256 of its canonical metadata JSON (pinned
 * on IPFS), the issuer, the issue time and the detector verdict.
 * @dev The token id is the media's sha256 read as a uint256, so there is at
 * most one certificate per content by construction and the content hash needs
 * no storage of its own (the same scheme ENS uses for name hashes). Perceptual
 * hashes travel in the mint event and the metadata only.
 */
contract CertificateRegistry is ERC721Packed, AccessControl, IERC4906 {
    /// @notice Role allowed to mint, and to revoke or re-attest its own certificates.
    bytes32 public constant ISSUER_ROLE = keccak256("ISSUER_ROLE");

    /// @notice Upper bound of a verdict score, in basis points.
    uint16 public constant MAX_SCORE_BPS = 10_000;

    enum Label {
        Unscanned,
        LikelyAuthentic,
        Uncertain,
        LikelyManipulated
    }

    /// @notice What an issuer submits for one certificate.
    struct MintRequest {
        bytes32 contentHash; // sha256 of the media bytes
        bytes32 metadataDigest; // sha256 of the canonical metadata JSON bytes
        Label label;
        uint16 scoreBps; // ensemble probability of manipulation, 0..10000
        uint64 phash; // 64-bit pHash (first frame for video)
        bytes32 pdq; // 256-bit PDQ hash (first frame for video)
    }

    /// @notice A certificate as the chain records it.
    struct Certificate {
        bytes32 contentHash;
        bytes32 metadataDigest;
        address issuer;
        uint40 issuedAt;
        Label label;
        uint16 scoreBps;
        bool revoked;
        address owner;
    }

    // Layout of the 96 bits packed beside each token's owner.
    uint256 private constant _LABEL_SHIFT = 40;
    uint256 private constant _SCORE_SHIFT = 48;
    uint256 private constant _REVOKED_SHIFT = 64;
    uint256 private constant _ISSUER_SHIFT = 72;

    mapping(uint256 tokenId => bytes32) private _metadataDigests;
    // Issuers are numbered from 1 when first granted the role, so a
    // certificate stores a 24-bit number instead of a 160-bit address.
    mapping(address issuer => uint24) private _issuerIds;
    address[] private _issuerById;

    /// @notice A certificate for this content already exists: `tokenId`.
    error CertificateExists(uint256 tokenId);
    /// @notice No certificate has this token id.
    error UnknownCertificate(uint256 tokenId);
    /// @notice The certificate is revoked and cannot change any more.
    error CertificateRevokedAlready(uint256 tokenId);
    /// @notice Only the certificate's issuer (still holding ISSUER_ROLE) or an admin may do this.
    error NotCertificateIssuer(address caller, uint256 tokenId);
    /// @notice A score above MAX_SCORE_BPS.
    error InvalidScore(uint16 scoreBps);
    /// @notice The content hash or metadata digest is zero.
    error EmptyHash();
    /// @notice A batch with no requests.
    error EmptyBatch();
    /// @notice More than 2^24 - 1 issuers were ever registered.
    error TooManyIssuers();

    /// @notice A certificate was minted. With the ERC-721 Transfer event it
    /// carries everything an indexer needs; `tokenId` is the content sha256.
    event CertificateIssued(
        uint256 indexed tokenId,
        address indexed issuer,
        address indexed to,
        bytes32 metadataDigest,
        Label label,
        uint16 scoreBps,
        uint64 phash,
        bytes32 pdq,
        uint40 issuedAt
    );
    /// @notice A certificate was revoked; it stays readable and says so.
    event CertificateRevoked(uint256 indexed tokenId, address indexed revokedBy, string reason);
    /// @notice A certificate got a new verdict and metadata (followed by MetadataUpdate).
    event CertificateReattested(
        uint256 indexed tokenId,
        address indexed attestedBy,
        bytes32 metadataDigest,
        Label label,
        uint16 scoreBps
    );
    /// @notice An account was granted ISSUER_ROLE for the first time and numbered.
    event IssuerRegistered(address indexed issuer, uint24 issuerId);

    /// @param admin Account that receives DEFAULT_ADMIN_ROLE (grants and revokes issuers).
    constructor(address admin) ERC721Packed("Provenance Certificate", "PROV") {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
    }

    /// @notice Mints one certificate to `to`.
    /// @return tokenId The content hash as a token id.
    function mint(address to, MintRequest calldata request) external onlyRole(ISSUER_ROLE) returns (uint256 tokenId) {
        uint96 issuerBits = _issuerBits(msg.sender);
        tokenId = _issue(to, request, issuerBits);
        _addBalance(to, 1);
    }

    /// @notice Mints one certificate per request to `to`, in one transaction.
    /// @return tokenIds The content hashes as token ids, in request order.
    function mintBatch(
        address to,
        MintRequest[] calldata requests
    ) external onlyRole(ISSUER_ROLE) returns (uint256[] memory tokenIds) {
        uint256 count = requests.length;
        if (count == 0) revert EmptyBatch();
        uint96 issuerBits = _issuerBits(msg.sender);
        tokenIds = new uint256[](count);
        for (uint256 i = 0; i < count; ++i) {
            tokenIds[i] = _issue(to, requests[i], issuerBits);
        }
        _addBalance(to, count);
    }

    /// @notice Revokes a certificate, for a reason that goes into the event.
    /// @dev Allowed to the certificate's issuer while it holds ISSUER_ROLE, and to admins.
    function revoke(uint256 tokenId, string calldata reason) external {
        uint96 extra = _mutableExtra(tokenId);
        _setExtraData(tokenId, extra | uint96(1 << _REVOKED_SHIFT));
        emit CertificateRevoked(tokenId, msg.sender, reason);
        emit MetadataUpdate(tokenId);
    }

    /// @notice Records a new verdict and metadata for a certificate.
    /// @dev Same permission as `revoke`; the issue time and issuer stay.
    function reattest(uint256 tokenId, bytes32 metadataDigest, Label label, uint16 scoreBps) external {
        if (metadataDigest == 0) revert EmptyHash();
        if (scoreBps > MAX_SCORE_BPS) revert InvalidScore(scoreBps);
        uint96 extra = _mutableExtra(tokenId);
        uint96 cleared = extra & ~uint96(((1 << 24) - 1) << _LABEL_SHIFT);
        _setExtraData(
            tokenId,
            cleared | (uint96(uint8(label)) << uint96(_LABEL_SHIFT)) | (uint96(scoreBps) << uint96(_SCORE_SHIFT))
        );
        _metadataDigests[tokenId] = metadataDigest;
        emit CertificateReattested(tokenId, msg.sender, metadataDigest, label, scoreBps);
        emit MetadataUpdate(tokenId);
    }

    /// @notice The certificate with this token id; reverts if there is none.
    function certificate(uint256 tokenId) external view returns (Certificate memory cert) {
        address owner = _requireCertificate(tokenId);
        uint96 extra = _extraData(tokenId);
        cert = Certificate({
            contentHash: bytes32(tokenId),
            metadataDigest: _metadataDigests[tokenId],
            issuer: _issuerById[uint24(extra >> _ISSUER_SHIFT) - 1],
            issuedAt: uint40(extra),
            label: Label(uint8(extra >> _LABEL_SHIFT)),
            scoreBps: uint16(extra >> _SCORE_SHIFT),
            revoked: uint8(extra >> _REVOKED_SHIFT) != 0,
            owner: owner
        });
    }

    /// @notice The token id certifying this content, or 0 when there is none.
    function tokenOfContent(bytes32 contentHash) external view returns (uint256) {
        return contentHash != 0 && _exists(uint256(contentHash)) ? uint256(contentHash) : 0;
    }

    /// @notice Whether the certificate exists and is revoked.
    function isRevoked(uint256 tokenId) external view returns (bool) {
        _requireCertificate(tokenId);
        return uint8(_extraData(tokenId) >> _REVOKED_SHIFT) != 0;
    }

    /// @notice `ipfs://` and the CIDv1 (raw, sha2-256, base32) of the metadata digest.
    /// @dev Built from the stored digest, so the URI cannot name other bytes.
    function tokenURI(uint256 tokenId) public view override returns (string memory) {
        _requireCertificate(tokenId);
        return string.concat("ipfs://", CidV1.rawSha256(_metadataDigests[tokenId]));
    }

    /// @inheritdoc IERC165
    function supportsInterface(
        bytes4 interfaceId
    ) public view override(ERC721Packed, AccessControl, IERC165) returns (bool) {
        return
            interfaceId == bytes4(0x49064906) || // ERC-4906
            ERC721Packed.supportsInterface(interfaceId) ||
            AccessControl.supportsInterface(interfaceId);
    }

    /// @dev Numbers an account the first time it is granted ISSUER_ROLE.
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        granted = super._grantRole(role, account);
        if (granted && role == ISSUER_ROLE && _issuerIds[account] == 0) {
            uint256 id = _issuerById.length + 1;
            if (id >= 1 << 24) revert TooManyIssuers();
            _issuerById.push(account);
            _issuerIds[account] = uint24(id);
            emit IssuerRegistered(account, uint24(id));
        }
    }

    function _issuerBits(address issuer) private view returns (uint96) {
        return (uint96(_issuerIds[issuer]) << uint96(_ISSUER_SHIFT)) | uint96(uint40(block.timestamp));
    }

    function _issue(address to, MintRequest calldata request, uint96 issuerBits) private returns (uint256 tokenId) {
        if (request.contentHash == 0 || request.metadataDigest == 0) revert EmptyHash();
        if (request.scoreBps > MAX_SCORE_BPS) revert InvalidScore(request.scoreBps);
        tokenId = uint256(request.contentHash);
        if (_exists(tokenId)) revert CertificateExists(tokenId);
        uint96 extra = issuerBits |
            (uint96(uint8(request.label)) << uint96(_LABEL_SHIFT)) |
            (uint96(request.scoreBps) << uint96(_SCORE_SHIFT));
        _mintPacked(to, tokenId, extra);
        _metadataDigests[tokenId] = request.metadataDigest;
        emit CertificateIssued(
            tokenId,
            msg.sender,
            to,
            request.metadataDigest,
            request.label,
            request.scoreBps,
            request.phash,
            request.pdq,
            uint40(issuerBits)
        );
    }

    function _requireCertificate(uint256 tokenId) private view returns (address owner) {
        if (!_exists(tokenId)) revert UnknownCertificate(tokenId);
        return ownerOf(tokenId);
    }

    /// @dev Checks the caller may change the certificate; returns its packed data.
    function _mutableExtra(uint256 tokenId) private view returns (uint96 extra) {
        _requireCertificate(tokenId);
        extra = _extraData(tokenId);
        if (uint8(extra >> _REVOKED_SHIFT) != 0) revert CertificateRevokedAlready(tokenId);
        address issuer = _issuerById[uint24(extra >> _ISSUER_SHIFT) - 1];
        bool isIssuer = msg.sender == issuer && hasRole(ISSUER_ROLE, msg.sender);
        if (!isIssuer && !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) revert NotCertificateIssuer(msg.sender, tokenId);
    }
}
