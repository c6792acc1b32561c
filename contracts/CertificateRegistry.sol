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
 *
 * Roles. An admin (DEFAULT_ADMIN_ROLE) and an issuer (ISSUER_ROLE) are never
 * the same account. Issuers mint, and revoke or re-attest their own
 * certificates while they hold the role. An admin grants and revokes issuers,
 * may revoke any certificate (for abuse or error, with a reason the event
 * records), and may approve one named issuer to re-issue a revoked
 * certificate; an admin never changes a verdict an issuer signed.
 *
 * Re-issue. Because the token id is the content hash, a revoked certificate
 * would hold its content for good. After `approveReissue`, the named issuer may
 * `reissue` it: the revoked record moves to `history(tokenId)` and the token is
 * burned and minted again with the new record.
 */
contract CertificateRegistry is ERC721Packed, AccessControl, IERC4906 {
    /// @notice Role allowed to mint, to re-issue what an admin approved, and to revoke or re-attest its own certificates.
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
    // Revoked certificates an admin approved for re-issue, and by whom.
    mapping(uint256 tokenId => address issuer) private _reissuers;
    // Earlier records of a re-issued certificate, oldest first: its packed slot and metadata digest.
    mapping(uint256 tokenId => PastRecord[]) private _history;

    struct PastRecord {
        uint256 packed; // owner | issue time, label, score, revoked, issuer number (as ERC721Packed keeps it)
        bytes32 metadataDigest;
    }

    /// @notice A certificate for this content already exists: `tokenId`.
    error CertificateExists(uint256 tokenId);
    /// @notice No certificate has this token id.
    error UnknownCertificate(uint256 tokenId);
    /// @notice The certificate is revoked and cannot change any more.
    error CertificateRevokedAlready(uint256 tokenId);
    /// @notice Only the certificate's issuer, while it holds ISSUER_ROLE, may do this (an admin may
    /// revoke but never re-attest).
    error NotCertificateIssuer(address caller, uint256 tokenId);
    /// @notice A revocation or a re-issue approval without a reason.
    error EmptyReason();
    /// @notice An account cannot hold both DEFAULT_ADMIN_ROLE and ISSUER_ROLE; `role` is the one refused.
    error RoleConflict(address account, bytes32 role);
    /// @notice Only a revoked certificate can be approved for re-issue.
    error CertificateNotRevoked(uint256 tokenId);
    /// @notice A re-issue must name an account holding ISSUER_ROLE.
    error NotAnIssuer(address account);
    /// @notice No re-issue of this certificate by `caller` was approved.
    error ReissueNotApproved(uint256 tokenId, address caller);
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
    /// @notice An admin allowed `issuer` to re-issue the revoked certificate `tokenId`.
    event ReissueApproved(uint256 indexed tokenId, address indexed approvedBy, address indexed issuer, string reason);
    /// @notice A revoked certificate was issued again with a new record (`revision` earlier records
    /// are in `history(tokenId)`). The ERC-721 token was burned and minted to `to` just before.
    event CertificateReissued(
        uint256 indexed tokenId,
        address indexed issuer,
        address indexed to,
        bytes32 metadataDigest,
        Label label,
        uint16 scoreBps,
        uint64 phash,
        bytes32 pdq,
        uint40 issuedAt,
        uint256 revision
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
    }

    /// @notice Issues a revoked certificate again, after an admin approved the caller for it.
    /// @dev The revoked record goes to `history`; the token is burned and minted to `to`.
    /// @return tokenId The content hash as a token id.
    function reissue(address to, MintRequest calldata request) external onlyRole(ISSUER_ROLE) returns (uint256 tokenId) {
        tokenId = uint256(request.contentHash);
        // Only a revoked certificate is ever approved, and approval names the one issuer that may use it.
        if (_reissuers[tokenId] != msg.sender) revert ReissueNotApproved(tokenId, msg.sender);
        delete _reissuers[tokenId];
        PastRecord[] storage past = _history[tokenId];
        past.push(PastRecord(_packedOf(tokenId), _metadataDigests[tokenId]));
        _burn(tokenId);
        uint96 extra = _record(request, _issuerBits(msg.sender));
        _mint(to, tokenId, extra);
        _metadataDigests[tokenId] = request.metadataDigest;
        emit CertificateReissued(
            tokenId,
            msg.sender,
            to,
            request.metadataDigest,
            request.label,
            request.scoreBps,
            request.phash,
            request.pdq,
            uint40(extra),
            past.length
        );
    }

    /// @notice Lets `issuer` re-issue the revoked certificate `tokenId` once (approving again names another).
    function approveReissue(
        uint256 tokenId,
        address issuer,
        string calldata reason
    ) external onlyRole(DEFAULT_ADMIN_ROLE) {
        _requireCertificate(tokenId);
        if (uint8(_extraData(tokenId) >> _REVOKED_SHIFT) == 0) revert CertificateNotRevoked(tokenId);
        if (bytes(reason).length == 0) revert EmptyReason();
        if (!hasRole(ISSUER_ROLE, issuer)) revert NotAnIssuer(issuer);
        _reissuers[tokenId] = issuer;
        emit ReissueApproved(tokenId, msg.sender, issuer, reason);
    }

    /// @notice Revokes a certificate, for a reason that goes into the event.
    /// @dev Allowed to the certificate's issuer while it holds ISSUER_ROLE, and to admins.
    function revoke(uint256 tokenId, string calldata reason) external {
        if (bytes(reason).length == 0) revert EmptyReason();
        uint96 extra = _mutableExtra(tokenId, true);
        _setExtraData(tokenId, extra | uint96(1 << _REVOKED_SHIFT));
        emit CertificateRevoked(tokenId, msg.sender, reason);
        emit MetadataUpdate(tokenId);
    }

    /// @notice Records a new verdict and metadata for a certificate.
    /// @dev Only the certificate's issuer while it holds ISSUER_ROLE (never an admin); the issue time and issuer stay.
    function reattest(uint256 tokenId, bytes32 metadataDigest, Label label, uint16 scoreBps) external {
        if (metadataDigest == 0) revert EmptyHash();
        if (scoreBps > MAX_SCORE_BPS) revert InvalidScore(scoreBps);
        uint96 extra = _mutableExtra(tokenId, false);
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
        _requireCertificate(tokenId);
        return _decode(tokenId, _packedOf(tokenId), _metadataDigests[tokenId]);
    }

    /// @notice The earlier records of a re-issued certificate, oldest first (each one revoked);
    /// empty for one never re-issued. Reverts if there is no certificate.
    function history(uint256 tokenId) external view returns (Certificate[] memory records) {
        _requireCertificate(tokenId);
        PastRecord[] storage past = _history[tokenId];
        records = new Certificate[](past.length);
        for (uint256 i = 0; i < past.length; ++i) {
            records[i] = _decode(tokenId, past[i].packed, past[i].metadataDigest);
        }
    }

    /// @notice The issuer an admin approved to re-issue this revoked certificate, or 0 when none.
    function reissueApprovedFor(uint256 tokenId) external view returns (address) {
        return _reissuers[tokenId];
    }

    /// @notice Every account ever granted ISSUER_ROLE, by issuer number (1 first); `hasRole` says which hold it now.
    function registeredIssuers() external view returns (address[] memory) {
        return _issuerById;
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

    /// @dev Keeps admins and issuers apart, and numbers an account the first time it is granted ISSUER_ROLE.
    function _grantRole(bytes32 role, address account) internal override returns (bool granted) {
        if (
            (role == ISSUER_ROLE && hasRole(DEFAULT_ADMIN_ROLE, account)) ||
            (role == DEFAULT_ADMIN_ROLE && hasRole(ISSUER_ROLE, account))
        ) revert RoleConflict(account, role);
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

    /// @dev The packed record of a valid request.
    function _record(MintRequest calldata request, uint96 issuerBits) private pure returns (uint96) {
        if (request.contentHash == 0 || request.metadataDigest == 0) revert EmptyHash();
        if (request.scoreBps > MAX_SCORE_BPS) revert InvalidScore(request.scoreBps);
        return
            issuerBits |
            (uint96(uint8(request.label)) << uint96(_LABEL_SHIFT)) |
            (uint96(request.scoreBps) << uint96(_SCORE_SHIFT));
    }

    function _issue(address to, MintRequest calldata request, uint96 issuerBits) private returns (uint256 tokenId) {
        uint96 extra = _record(request, issuerBits); // validates the request, as for a re-issue
        tokenId = uint256(request.contentHash);
        if (_exists(tokenId)) revert CertificateExists(tokenId);
        _mint(to, tokenId, extra);
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

    /// @dev A certificate from its packed slot and metadata digest.
    function _decode(uint256 tokenId, uint256 packed, bytes32 digest) private view returns (Certificate memory) {
        uint96 extra = uint96(packed >> 160);
        return
            Certificate({
                contentHash: bytes32(tokenId),
                metadataDigest: digest,
                issuer: _issuerById[uint24(extra >> _ISSUER_SHIFT) - 1],
                issuedAt: uint40(extra),
                label: Label(uint8(extra >> _LABEL_SHIFT)),
                scoreBps: uint16(extra >> _SCORE_SHIFT),
                revoked: uint8(extra >> _REVOKED_SHIFT) != 0,
                owner: address(uint160(packed))
            });
    }

    /// @dev Checks the caller may change the certificate (its issuer holding ISSUER_ROLE, or for
    /// `adminMay` an admin); returns its packed data.
    function _mutableExtra(uint256 tokenId, bool adminMay) private view returns (uint96 extra) {
        _requireCertificate(tokenId);
        extra = _extraData(tokenId);
        if (uint8(extra >> _REVOKED_SHIFT) != 0) revert CertificateRevokedAlready(tokenId);
        address issuer = _issuerById[uint24(extra >> _ISSUER_SHIFT) - 1];
        if (msg.sender == issuer && hasRole(ISSUER_ROLE, msg.sender)) return extra;
        if (!adminMay || !hasRole(DEFAULT_ADMIN_ROLE, msg.sender)) revert NotCertificateIssuer(msg.sender, tokenId);
    }
}
