use super::*;

fn wechat_input() -> ConfigInput {
    // Whether keys parse is the service's check; here any text will do.
    let (private, public) = (
        "PRIVATE KEY TEXT".to_string(),
        "PUBLIC KEY TEXT".to_string(),
    );
    ConfigInput {
        name: Some(" 主配置 ".into()),
        provider_type: Some(ProviderType::Wechat),
        oa_app_secret: Some("abcdefghijkl7890".into()),
        wx_mch_id: Some("1900000001".into()),
        wx_api_v3_key: Some("0123456789abcdef0123456789abcdef".into()),
        wx_cert_content: Some(
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----".into(),
        ),
        wx_key_content: Some(private),
        wx_serial_no: Some("5157F09EFDC096DE15EBE81A47057A72".into()),
        wx_notify_url: Some("https://example.com/api/callback/wechat-pay".into()),
        wx_pay_public_key_id: Some("PUB_KEY_ID_0114232134912410000000000000".into()),
        wx_pay_public_key: Some(public),
        ..Default::default()
    }
}

#[test]
fn masks() {
    assert_eq!(mask("abcdefghijkl7890"), "abcd***7890");
    assert_eq!(mask("12345678"), "***");
    assert_eq!(mask(""), "");
    assert_eq!(mask("中文密钥中文密钥中文"), "中文密钥***密钥中文");
}

#[test]
fn create_requires_the_providers_fields() {
    let c = wechat_input().apply(None).unwrap();
    assert_eq!(c.fields.name, "主配置");
    let m = masks_of(&c.secrets);
    assert_eq!(m["oa_app_secret"], "abcd***7890");
    assert_eq!(m["wx_api_v3_key"], "0123***cdef");
    assert_eq!(m["wx_key_content"], CONFIGURED);
    assert_eq!(m["fy_private_key"], NOT_CONFIGURED);
    assert!(!format!("{:?}", c.secrets).contains("0123456789"));
    for strip in [
        |i: &mut ConfigInput| i.wx_mch_id = None,
        |i: &mut ConfigInput| i.wx_api_v3_key = Some("short".into()),
        |i: &mut ConfigInput| i.wx_key_content = None,
        |i: &mut ConfigInput| i.wx_notify_url = Some("ftp://x".into()),
        |i: &mut ConfigInput| i.provider_type = None,
        |i: &mut ConfigInput| i.name = Some("".into()),
    ] {
        let mut i = wechat_input();
        strip(&mut i);
        assert!(i.apply(None).is_err());
    }
    // A Fuiou configuration needs the Fuiou fields, not WeChat's.
    let mut i = wechat_input();
    i.provider_type = Some(ProviderType::Fuiou);
    assert!(i.apply(None).is_err());
}

#[test]
fn update_keeps_omitted_and_empty_secrets() {
    let base = wechat_input().apply(None).unwrap();
    let up = ConfigInput {
        description: Some("备用".into()),
        wx_api_v3_key: Some("".into()),
        oa_app_secret: Some("newsecret-0000-1111".into()),
        ..Default::default()
    };
    let after = up.apply(Some(&base)).unwrap();
    assert_eq!(after.secrets.wx_api_v3_key, base.secrets.wx_api_v3_key);
    assert_eq!(after.secrets.oa_app_secret, "newsecret-0000-1111");
    assert_eq!(after.fields.description, "备用");
    assert_eq!(after.fields.wx_mch_id, base.fields.wx_mch_id);
    // Switching the provider re-checks everything.
    let to_fuiou = ConfigInput {
        provider_type: Some(ProviderType::Fuiou),
        ..Default::default()
    };
    assert!(to_fuiou.apply(Some(&base)).is_err());
}
